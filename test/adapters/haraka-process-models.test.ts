/**
 * The Haraka plugin in each of Haraka's process models (smtp.ini `nodes`): a single process (`0`, empty),
 * the default (unset: a primary and one worker) and several workers. One REST API per instance; every
 * acknowledged change applies in every worker; `times` and hits are instance totals; a worker Haraka
 * replaces after a SIGKILL forces the same rules from its first delivery.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { type AddressInfo, createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { createFakeMx, type FakeMx } from '../../src/testing/fake-mx.js';
import { ErrorsClient } from '../../src/client/index.js';
import { Interceptor } from '../../src/index.js';
import { type Haraka, type Nodes, startHaraka, workersOf } from '../helpers/haraka.js';

const DOMAINS = ['defer.test', 'bounce.test', 'plain.test', 'times.test', 'hits.test', 'flow.test', 'kill.test', 'reload.test', 'sender.test'];

const MODELS: { name: string; nodes: Nodes }[] = [
  { name: 'single process (nodes=0)', nodes: 0 },
  { name: 'single process (nodes empty)', nodes: '' },
  { name: 'default (nodes unset: primary + 1 worker)', nodes: 'unset' },
  { name: 'two workers (nodes=2)', nodes: 2 },
];

for (const { name, nodes } of MODELS) {
  describe(`Haraka plugin, ${name}`, () => {
    let sink: FakeMx;
    let haraka: Haraka;
    let api: ErrorsClient;
    const workers = workersOf(nodes);

    before(async () => {
      sink = await createFakeMx({ interceptor: new Interceptor() }); // the real receiving MX, no rules
      const routes = Object.fromEntries(DOMAINS.map((d) => [d, `127.0.0.1:${sink.port}`]));
      haraka = await startHaraka(routes, { nodes }); // retries after 5 s (Haraka's minimum)
      api = new ErrorsClient({ baseUrl: `http://127.0.0.1:${haraka.httpPort}` });
    });
    after(async () => {
      await haraka?.stop();
      await sink?.close();
    });

    // A new connection per message: Haraka's primary hands connections to its workers in turn.
    const send = (to: string) => nodemailer
      .createTransport({ host: '127.0.0.1', port: haraka.smtpPort, secure: false, ignoreTLS: true })
      .sendMail({ from: 'app@sender.test', to, subject: 'hello', text: 'hi' });
    const received = (address: string) => sink.messages.filter((m) => m.envelope.rcptTo.includes(address)).length;
    const reportsFor = (domain: string) => haraka.reports.filter((r) => r.domain === domain);

    it('one REST API per instance, served where it lives as long as the instance', async () => {
      const log = haraka.log();
      assert.equal(log.split('smtp-intercept: ready, REST API').length - 1, 1, log);
      assert.doesNotMatch(log, /EADDRINUSE|not started/);
      assert.equal(haraka.workers().length, Math.max(1, workers));
    });

    it('a forced 421 is deferred, and delivered after the rule is deleted', async () => {
      await api.add({ domain: 'defer.test', code: 421, extended: '4.7.0', description: 'Try later' });
      await send('x@defer.test');
      const deferred = await haraka.waitFor((r) => r.hook === 'deferred' && r.domain === 'defer.test');
      assert.deepEqual(deferred.rcpts.map((r) => r.reason), ['421 4.7.0 Try later']);
      await api.remove({ domain: 'defer.test' });
      await haraka.waitFor((r) => r.hook === 'delivered' && r.domain === 'defer.test');
      assert.equal(received('x@defer.test'), 1);
    });

    it('a forced 550 bounces, and the DSN to the sender carries the text', async () => {
      await api.add({ domain: 'bounce.test', code: 550, extended: '5.7.1', description: 'Blocked by policy' });
      await send('x@bounce.test');
      const bounce = await haraka.waitFor((r) => r.hook === 'bounce' && r.domain === 'bounce.test');
      assert.equal(bounce.rcpts[0]!.reason, '550 5.7.1 Blocked by policy');
      await haraka.waitFor((r) => r.hook === 'delivered' && r.domain === 'sender.test' && r.rcpts[0]!.address === 'app@sender.test');
      const dsn = sink.messages.find((m) => m.envelope.mailFrom === '' && m.raw.toString().includes('x@bounce.test'));
      assert.ok(dsn, 'the DSN reached the sender');
      assert.match(dsn.raw.toString(), /550 5\.7\.1 Blocked by policy/);
    });

    it('delivers a domain no rule matches', async () => {
      await send('x@plain.test');
      await haraka.waitFor((r) => r.hook === 'delivered' && r.domain === 'plain.test');
      assert.equal(received('x@plain.test'), 1);
    });

    it('times: 3 forces exactly 3 of 20 deliveries in the whole instance', async () => {
      await api.add({ domain: 'times.test', code: 421, extended: '4.2.0', description: 'Budget', times: 3 });
      const rcpts = Array.from({ length: 20 }, (_, i) => `m${i}@times.test`);
      await Promise.all(rcpts.map((to) => send(to)));
      // The 3 deferred ones are retried 5 s later, when the budget is used up: all 20 arrive once.
      for (const to of rcpts) await haraka.waitFor((r) => r.hook === 'delivered' && r.rcpts[0]!.address === to);
      const deferred = reportsFor('times.test').filter((r) => r.hook === 'deferred');
      assert.deepEqual(deferred.map((r) => r.rcpts[0]!.reason), Array(3).fill('421 4.2.0 Budget'));
      assert.deepEqual(rcpts.map(received), Array(20).fill(1));
      assert.equal(new Set(reportsFor('times.test').map((r) => r.pid)).size, Math.max(1, workers), 'every worker delivered some');
      assert.deepEqual(await api.list({ domain: 'times.test' }), [], 'used up');
    });

    it('hits reported by GET /v1/errors are instance totals', async () => {
      await api.add({ domain: 'hits.test', code: 550, description: 'Counted' });
      await Promise.all(Array.from({ length: 8 }, (_, i) => send(`h${i}@hits.test`)));
      for (let i = 0; i < 8; i++) await haraka.waitFor((r) => r.hook === 'bounce' && r.rcpts[0]!.address === `h${i}@hits.test`);
      const [rule] = await api.list({ domain: 'hits.test' });
      assert.equal(rule?.hits, 8);
    });

    it('a rule added while mail flows applies to every message submitted after its 2xx, in every worker', async () => {
      let sentAfter: string[] | undefined;
      const sending: Promise<unknown>[] = [];
      let added = false;
      const adding = (async () => {
        await new Promise((r) => setTimeout(r, 300));
        await api.add({ domain: 'flow.test', code: 554, description: 'Now blocked' });
        added = true;
      })();
      for (let i = 0; i < 40; i++) {
        const to = `f${i}@flow.test`;
        if (added) (sentAfter ??= []).push(to);
        sending.push(send(to));
        await new Promise((r) => setTimeout(r, 20));
      }
      await adding;
      await Promise.all(sending);
      assert.ok(sentAfter !== undefined && sentAfter.length >= 4 * Math.max(1, workers), `${sentAfter?.length} messages sent after the 2xx`);
      const outcomes = await Promise.all(sentAfter.map((to) => haraka.waitFor((r) => r.hook !== 'deferred' && r.rcpts[0]!.address === to)));
      assert.deepEqual(outcomes.map((r) => [r.hook, r.rcpts[0]!.reason]), sentAfter.map(() => ['bounce', '554 5.0.0 Now blocked']));
      assert.equal(new Set(outcomes.map((r) => r.pid)).size, Math.max(1, workers), 'every worker forced it');
    });

    if (workers > 0) {
      it('a worker killed with SIGKILL is replaced and forces the same rules from its first delivery', async () => {
        await api.add({ domain: 'kill.test', code: 550, extended: '5.7.0', description: 'Still forced' });
        const before = haraka.workers();
        process.kill(before[0]!, 'SIGKILL');
        const since = Date.now();
        while (haraka.workers().length === before.length || !haraka.log().includes(`smtp-intercept: worker ${haraka.workers().at(-1)} ready`)) {
          assert.ok(Date.now() - since < 60_000, `no replacement worker:\n${haraka.log().slice(-3000)}`);
          await new Promise((r) => setTimeout(r, 50));
        }
        const replacement = haraka.workers().at(-1)!;
        const rcpts = Array.from({ length: 3 * workers }, (_, i) => `k${i}@kill.test`);
        for (const to of rcpts) await send(to); // one after another: the connections go round the workers
        const outcomes = await Promise.all(rcpts.map((to) => haraka.waitFor((r) => r.rcpts[0]!.address === to)));
        assert.deepEqual(outcomes.map((r) => [r.hook, r.rcpts[0]!.reason]), rcpts.map(() => ['bounce', '550 5.7.0 Still forced']));
        assert.ok(outcomes.some((r) => r.pid === replacement), 'the replacement delivered some');
        assert.ok(!haraka.reports.some((r) => r.pid === replacement && r.domain === 'kill.test' && r.hook === 'delivered'));
      });

      if (typeof nodes === 'number') {
        it('after `haraka --graceful` (every worker replaced) the new workers force the same rules', async () => {
          await api.add({ domain: 'reload.test', code: 550, extended: '5.7.0', description: 'Reloaded' });
          const before = haraka.workers().length;
          const bin = createRequire(import.meta.url).resolve('Haraka/bin/haraka');
          execFileSync(process.execPath, [bin, '-c', haraka.dir, '--graceful'], { stdio: 'ignore', timeout: 20_000 });
          const since = Date.now();
          while (!haraka.log().includes('Reload complete') || haraka.workers().length < before + workers) {
            assert.ok(Date.now() - since < 60_000, `no reload:\n${haraka.log().slice(-3000)}`);
            await new Promise((r) => setTimeout(r, 100));
          }
          const fresh = haraka.workers().slice(before);
          const rcpts = Array.from({ length: 3 * workers }, (_, i) => `r${i}@reload.test`);
          for (const to of rcpts) await send(to);
          const outcomes = await Promise.all(rcpts.map((to) => haraka.waitFor((r) => r.rcpts[0]!.address === to)));
          assert.deepEqual(outcomes.map((r) => [r.hook, r.rcpts[0]!.reason]), rcpts.map(() => ['bounce', '550 5.7.0 Reloaded']));
          assert.ok(outcomes.every((r) => fresh.includes(r.pid)), 'delivered by the new workers');
        });
      }
    }
  });
}

describe('Haraka plugin that cannot start, with two workers', () => {
  it('says so once, at error level, and each worker says it does not check deliveries', async () => {
    const busy = createServer();
    await new Promise<void>((ok) => busy.listen(0, '127.0.0.1', ok));
    const { port } = busy.address() as AddressInfo;
    const haraka = await startHaraka({}, { nodes: 2, httpPort: port });
    try {
      const lines = haraka.log().split('\n');
      const failures = lines.filter((l) => l.includes('smtp-intercept: not started'));
      assert.equal(failures.length, 1, haraka.log());
      assert.match(failures[0]!, /^\[ERROR\].*EADDRINUSE/);
      for (const pid of haraka.workers()) {
        assert.ok(lines.some((l) => l.includes(`smtp-intercept: worker ${pid} does not check deliveries`)), haraka.log());
      }
    } finally {
      await haraka.stop();
      busy.close();
    }
  });
});
