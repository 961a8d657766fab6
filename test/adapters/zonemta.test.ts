/**
 * The ZoneMTA plugin in ZoneMTA's real sender (zone-mta 3.10.x): forced replies are classified by
 * ZoneMTA itself exactly as the same reply from a real MX (deferred with its defer times, bounced,
 * delivered). The plugin's main-process half (the REST API) runs in ZoneMTA's real plugin loader here,
 * and reaches the sender through a real Redis. ZoneMTA's queue is replaced by an in-memory one: it needs
 * MongoDB, which cannot run here (see test/helpers/zonemta-sender.cjs).
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, beforeEach, describe, it } from 'node:test';
import { resolve } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { ErrorsClient } from '../../src/client/index.js';
import type { RuleInput } from '../../src/index.js';
import { freePort } from '../helpers/haraka.js';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';
import { bounceMessage, examplePluginEntry, fromZoneMta, type QueueReport, startZoneMta, type ZoneMta } from '../helpers/zonemta.js';

const require = createRequire(import.meta.url);
const PLUGIN = resolve('dist/cjs/adapters/zonemta.js');

interface WildPlugins { load(done: () => void): void; loaded: { title: string }[] }

/** A real MX: accepts everything but the recipients given a reply, and records what it received. */
async function startRealMx(replies: Record<string, { code: number; text: string }>) {
  const received: string[] = [];
  const server = new SMTPServer({
    authOptional: true, disabledCommands: ['STARTTLS', 'AUTH'], logger: false, disableReverseLookup: true,
    onRcptTo(address, _session, cb) {
      const reply = replies[address.address];
      if (reply === undefined) return cb();
      cb(Object.assign(new Error(reply.text), { responseCode: reply.code }));
    },
    onData(stream, session, cb) {
      stream.resume();
      stream.on('end', () => { received.push(...session.envelope.rcptTo.map((r) => r.address)); cb(); });
    },
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.server.address() as { port: number };
  return { port, received, close: () => new Promise<void>((ok) => server.close(() => ok())) };
}

/** Loads the plugin with ZoneMTA's plugin loader in `context`, collecting what it logs at error level. */
async function loadPlugin(context: string, entry: Record<string, unknown>, db: object = {}) {
  const PluginHandler = fromZoneMta('@zone-eu/wild-plugins') as new (options: object) => WildPlugins & { runHooks(name: string, args: unknown[]): Promise<void> };
  const errors: string[] = [];
  const logger = { info: () => undefined, error: (...args: unknown[]) => errors.push(args.map(String).join(' ')) };
  const loader = new PluginHandler({ logger, context, log: {}, db, plugins: { [PLUGIN]: { ...examplePluginEntry(), ...entry } } });
  await new Promise<void>((ok) => loader.load(ok));
  return { loader, errors };
}

describe('ZoneMTA plugin settings', () => {
  it('names a bad setting, and then lets deliveries through unchecked', async () => {
    const { loader, errors } = await loadPlugin('sender', { redis: 'redis://127.0.0.1:1', api: { port: 'http' } });
    assert.deepEqual(loader.loaded.map((p) => p.title), ['smtp-intercept']);
    assert.match(errors.join('\n'), /not started, deliveries are not checked.*api\.port must be a port number/);
    const options = { host: '192.0.2.1', port: 25 };
    await loader.runHooks('sender:connect', [{ id: 'a', seq: '001', domain: 'x.test', recipient: 'a@x.test', headers: { getFirst: () => '' } }, options]);
    assert.deepEqual(options, { host: '192.0.2.1', port: 25 });
    await (require(PLUGIN) as { close(): Promise<void> }).close();
  });

  it('says when Redis is missing', async () => {
    const { errors } = await loadPlugin('sender', { redis: undefined });
    assert.match(errors.join('\n'), /redis is missing/);
    await (require(PLUGIN) as { close(): Promise<void> }).close();
  });
});

describe('ZoneMTA plugin (ZoneMTA 3.10 sender)', () => {
  let redis: RedisServer;
  let mx: Awaited<ReturnType<typeof startRealMx>>;
  let zonemta: ZoneMta;
  let api: ErrorsClient;
  let main: { close(): Promise<void> };
  let zoneMtaRedis: { quit(): Promise<unknown> } | undefined;

  before(async () => {
    redis = await startRedis();
    mx = await startRealMx({
      'x@real-defer.test': { code: 451, text: '4.7.1 Try again later' },
      'x@real-bounce.test': { code: 550, text: '5.7.1 Blocked by policy' },
    });
    const plugin = { redis: redis.url, prefix: 'zm-test', instance: 'mta-1' };
    // The main process: ZoneMTA's plugin loader with the example's entry and its REST API.
    const apiPort = await freePort();
    // Without a `redis` setting it uses ZoneMTA's own connection (ZoneMTA's ioredis 5), as ZoneMTA's main
    // process hands it to plugins; the sender below is given the URL.
    const IORedis = fromZoneMta('ioredis') as new (url: string) => { quit(): Promise<unknown> };
    zoneMtaRedis = new IORedis(redis.url);
    const { loader, errors } = await loadPlugin('main', { ...plugin, redis: undefined, api: { port: apiPort, token: 'secret' } }, { redis: zoneMtaRedis });
    assert.deepEqual([loader.loaded.map((p) => p.title), errors], [['smtp-intercept'], []]);
    main = require(PLUGIN) as { close(): Promise<void> };
    api = new ErrorsClient({ baseUrl: `http://127.0.0.1:${apiPort}`, token: 'secret' });

    zonemta = await startZoneMta({ mxPort: mx.port, plugin, mxAddresses: { 'ip.test': '127.0.0.2' }, deferTimes: [1000, 1000, 60_000] });
  });
  after(async () => {
    await zonemta?.stop();
    await main?.close();
    await zoneMtaRedis?.quit();
    await mx?.close();
    await redis?.stop();
  });
  beforeEach(async () => {
    for (const { pool, mta, domain, ip, recipient, tag, sender, mx, cluster } of await api.list()) {
      await api.remove(JSON.parse(JSON.stringify({ pool, mta, domain, ip, recipient, tag, sender, mx, cluster })) as RuleInput);
    }
  });

  /** Adds a rule through the REST API and waits until the sender (another process) has it. */
  const add = async (rule: RuleInput) => {
    await api.add(rule);
    await new Promise((r) => setTimeout(r, 200));
  };
  const of = (id: string, cmd: QueueReport['cmd']) => (r: QueueReport) => r.id === id && r.cmd === cmd;

  it('a forced 4xx is deferred exactly as the same reply from a real MX, and retried on the defer times', async () => {
    await add({ domain: 'defer.test', code: 451, extended: '4.7.1', description: 'Try again later' });
    const forced = zonemta.queue('app@sender.test', ['x@defer.test']);
    const real = zonemta.queue('app@sender.test', ['x@real-defer.test']);
    const [f, r] = await Promise.all([zonemta.waitFor(of(forced, 'DEFER')), zonemta.waitFor(of(real, 'DEFER'))]);
    assert.equal(f.response, '451 4.7.1 Try again later');
    assert.deepEqual([f.response, f.category, f.ttl], [r.response, r.category, r.ttl]);
    assert.equal(f.ttl, 1000);
    assert.equal(f.address, '127.0.0.1');
    // ZoneMTA retries after the first defer time, and the rule forces the retry too.
    await zonemta.waitFor((x) => x.id === forced && x.cmd === 'DEFER' && x !== f);
    assert.equal(zonemta.reports.filter(of(forced, 'RELEASE')).length, 0);
  });

  it('a forced 5xx bounces exactly as the same reply from a real MX', async () => {
    await add({ domain: 'bounce.test', code: 550, extended: '5.7.1', description: 'Blocked by policy' });
    const forced = zonemta.queue('app@sender.test', ['x@bounce.test']);
    const real = zonemta.queue('app@sender.test', ['x@real-bounce.test']);
    const [f, r] = await Promise.all([zonemta.waitFor(of(forced, 'BOUNCE')), zonemta.waitFor(of(real, 'BOUNCE'))]);
    assert.equal(f.response, '550 5.7.1 Blocked by policy');
    assert.deepEqual([f.response, f.category], [r.response, r.category]);
    assert.deepEqual([f.to, f.from], ['x@bounce.test', 'app@sender.test']);
    const released = zonemta.reports.find(of(forced, 'RELEASE'))!;
    assert.deepEqual([released.status!.delivered, released.status!.response], [false, '550 5.7.1 Blocked by policy']);
    assert.equal(zonemta.reports.filter(of(forced, 'DEFER')).length, 0);
    // ZoneMTA's own bounce plugin writes the DSN to the sender with the forced reply.
    const [fDsn, rDsn] = [await bounceMessage(f), await bounceMessage(r)];
    assert.deepEqual(fDsn.envelope.to, 'app@sender.test');
    assert.equal(fDsn.envelope.from, '');
    assert.match(fDsn.message, /Final-Recipient: rfc822; x@bounce\.test/);
    const diagnostic = (m: string) => /Diagnostic-Code: .*/.exec(m)?.[0];
    assert.equal(diagnostic(fDsn.message), 'Diagnostic-Code: smtp; 550 5.7.1 Blocked by policy');
    assert.equal(diagnostic(fDsn.message), diagnostic(rDsn.message));
  });

  it('a forced 2xx at DATA counts as delivered, with the rule text, and nothing reaches the MX', async () => {
    await add({ domain: 'ok.test', code: 250, extended: '2.0.0', description: 'Queued by smtp-intercept', phase: 'data' });
    const id = zonemta.queue('app@sender.test', ['x@ok.test']);
    const released = await zonemta.waitFor(of(id, 'RELEASE'));
    assert.equal(released.status!.delivered, true);
    assert.match(released.status!.response, /^250 2\.0\.0 Queued by smtp-intercept/);
    assert.ok(!mx.received.includes('x@ok.test'));
  });

  it('a forced greeting (phase connect) is deferred with its reply', async () => {
    await add({ domain: 'greet.test', code: 421, extended: '4.7.0', description: 'Too busy', phase: 'connect' });
    const id = zonemta.queue('app@sender.test', ['x@greet.test']);
    const deferred = await zonemta.waitFor(of(id, 'DEFER'));
    assert.equal(deferred.response, '421 4.7.0 Too busy');
  });

  it('a disconnect after DATA is deferred by ZoneMTA, then the retry is delivered to the real MX', async () => {
    await add({ domain: 'drop.test', fault: 'disconnect', phase: 'data', times: 1 });
    const id = zonemta.queue('app@sender.test', ['x@drop.test']);
    const deferred = await zonemta.waitFor(of(id, 'DEFER'));
    assert.equal(deferred.address, '127.0.0.1');
    const released = await zonemta.waitFor(of(id, 'RELEASE'));
    assert.equal(released.status!.delivered, true);
    assert.ok(mx.received.includes('x@drop.test'));
  });

  it('a hang at MAIL closed by the server after a short delay is deferred', async () => {
    await add({ domain: 'hang.test', fault: 'hang', phase: 'mail', delay: 300 });
    const id = zonemta.queue('app@sender.test', ['x@hang.test']);
    const deferred = await zonemta.waitFor(of(id, 'DEFER'));
    assert.equal(zonemta.reports.filter(of(id, 'RELEASE')).length, 0, JSON.stringify(deferred));
  });

  it('defers twice, then delivers to the real MX (times)', async () => {
    await add({ domain: 'retry.test', code: 421, extended: '4.4.5', description: 'Busy', times: 2, phase: 'mail' });
    const id = zonemta.queue('app@sender.test', ['x@retry.test']);
    const released = await zonemta.waitFor(of(id, 'RELEASE'));
    assert.equal(released.status!.delivered, true);
    const defers = zonemta.reports.filter(of(id, 'DEFER'));
    assert.deepEqual(defers.map((d) => d.response), ['421 4.4.5 Busy', '421 4.4.5 Busy']);
    assert.ok(mx.received.includes('x@retry.test'));
  });

  it('a domain no rule matches is delivered to the real MX', async () => {
    await add({ domain: 'other.test', code: 550 });
    const id = zonemta.queue('app@sender.test', ['x@plain.test']);
    const released = await zonemta.waitFor(of(id, 'RELEASE'));
    assert.equal(released.status!.delivered, true);
    assert.ok(mx.received.includes('x@plain.test'));
  });

  it('attempts carry no tls: the plugin decides at sender:connect, before ZoneMTA connects to any MX', async () => {
    await add({ domain: 'tls.test', code: 452, extended: '4.2.2', description: 'tls' });
    const forced = zonemta.queue('app@sender.test', ['x@tls.test']);
    const plain = zonemta.queue('app@sender.test', ['x@plain.test']);
    await Promise.all([zonemta.waitFor(of(forced, 'BOUNCE')), zonemta.waitFor(of(plain, 'RELEASE'))]);
    const { checks } = zonemta;
    assert.ok(checks.some((c) => c.recipient === 'x@tls.test' && c.phase === 'rcpt'));
    assert.ok(checks.some((c) => c.recipient === 'x@plain.test' && c.phase === 'data'));
    assert.deepEqual(new Set(checks.map((c) => c.tls)), new Set(['absent']));
  });

  it('selects on the delivery sender', async () => {
    await add({ sender: '*.sender.test', domain: 'snd.test', code: 452, extended: '4.2.2', description: 'sender' });
    const forced = zonemta.queue('app@eu.sender.test', ['x@snd.test']);
    const apex = zonemta.queue('app@sender.test', ['y@snd.test']);
    assert.equal((await zonemta.waitFor(of(forced, 'BOUNCE'))).response, '452 4.2.2 sender');
    assert.equal((await zonemta.waitFor(of(apex, 'RELEASE'))).status!.delivered, true, 'a wildcard never matches its apex');
  });

  it('selects on pool (the zone), mta (the zone address), ip (the MX address) and tag (a header)', async () => {
    await add({ pool: 'default', domain: 'pool.test', code: 452, extended: '4.2.2', description: 'pool' });
    await add({ mta: '127.0.0.1', domain: 'mta.test', code: 452, extended: '4.2.2', description: 'mta' });
    await add({ ip: '127.0.0.2', code: 452, extended: '4.2.2', description: 'ip' });
    await add({ tag: 'spring', domain: 'tag.test', code: 452, extended: '4.2.2', description: 'tag' });
    const ids = {
      pool: zonemta.queue('app@sender.test', ['x@pool.test']),
      mta: zonemta.queue('app@sender.test', ['x@mta.test']),
      ip: zonemta.queue('app@sender.test', ['x@ip.test']),
      tag: zonemta.queue('app@sender.test', ['x@tag.test'], { 'X-Campaign': 'winter, spring' }),
    };
    for (const [field, id] of Object.entries(ids)) {
      // 452 is a reject in ZoneMTA's bounce rules: the reply comes back in the bounce.
      const bounce = await zonemta.waitFor(of(id, 'BOUNCE'));
      assert.equal(bounce.response, `452 4.2.2 ${field}`);
    }
    const untagged = zonemta.queue('app@sender.test', ['y@tag.test']);
    assert.equal((await zonemta.waitFor(of(untagged, 'RELEASE'))).status!.delivered, true);
  });

  it('a forced delivery never borrows a cached connection to the real MX, nor leaves its own for others', async () => {
    const first = zonemta.queue('app@sender.test', ['a@reuse.test']);
    assert.equal((await zonemta.waitFor(of(first, 'RELEASE'))).status!.delivered, true);
    // ZoneMTA keeps that connection for 5 s: the next delivery to the domain would reuse it.
    await add({ domain: 'reuse.test', code: 250, description: 'Forced', phase: 'data', times: 1 });
    const forced = zonemta.queue('app@sender.test', ['b@reuse.test']);
    const f = await zonemta.waitFor(of(forced, 'RELEASE'));
    assert.match(f.status!.response, /Forced/);
    assert.ok(!mx.received.includes('b@reuse.test'));
    const after = zonemta.queue('app@sender.test', ['c@reuse.test']);
    await zonemta.waitFor(of(after, 'RELEASE'));
    assert.ok(mx.received.includes('c@reuse.test'));
  });
});
