/**
 * The Haraka plugin in a real Haraka 3.x: forced replies reach Haraka's own outbound reply handling
 * (deferred + retry, bounce + DSN, delivered), and unforced mail reaches a real smtp-server.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { createFakeMx, type FakeMx } from '../../src/testing/index.js';
import { ErrorsClient } from '../../src/client/index.js';
import { Interceptor, type RuleInput } from '../../src/index.js';
import { type Haraka, startHaraka } from '../helpers/haraka.js';

describe('Haraka plugin (real Haraka outbound)', () => {
  let sink: FakeMx;
  let haraka: Haraka;
  let api: ErrorsClient;

  before(async () => {
    sink = await createFakeMx({ interceptor: new Interceptor() }); // a real receiving MX with no rules
    const to = `127.0.0.1:${sink.port}`;
    haraka = await startHaraka({ 'defer.test': to, 'bounce.test': to, 'ok.test': to, 'plain.test': to, 'retry.test': to, 'mixed.test': to, 'close.test': to, 'pool.test': to, 'sender.test': to, 'drop.test': to, 'hang.test': to });
    api = new ErrorsClient({ baseUrl: `http://127.0.0.1:${haraka.httpPort}` });
  });
  after(async () => {
    await haraka?.stop();
    await sink?.close();
  });
  beforeEach(async () => {
    for (const { pool, mta, domain, ip, recipient, tag, sender, mx, cluster } of await api.list()) {
      await api.remove(JSON.parse(JSON.stringify({ pool, mta, domain, ip, recipient, tag, sender, mx, cluster })) as RuleInput);
    }
  });

  const send = (to: string[], headers: Record<string, string> = {}) => nodemailer
    .createTransport({ host: '127.0.0.1', port: haraka.smtpPort, secure: false, ignoreTLS: true })
    .sendMail({ from: 'app@sender.test', to, subject: 'hello', text: 'hi', headers });

  it('defers with the exact reply in the deferred hook, and retries on the schedule', async () => {
    await api.add({ domain: 'defer.test', code: 451, extended: '4.7.1', description: 'Try again later' });
    await send(['a@defer.test', 'b@defer.test']);
    const deferred = await haraka.waitFor((r) => r.hook === 'deferred' && r.domain === 'defer.test');
    assert.equal(deferred.err, 'Some recipients temp failed: <a@defer.test>, <b@defer.test>');
    assert.equal(deferred.delay, 5);
    for (const rcpt of deferred.rcpts) {
      assert.deepEqual([rcpt.dsn_action, rcpt.dsn_smtp_code, rcpt.dsn_smtp_extc, rcpt.dsn_smtp_response], ['delayed', '451', '4.7.1', 'Try again later']);
      assert.equal(rcpt.reason, '451 4.7.1 Try again later');
    }
    // The retry runs five seconds later and is forced again: Haraka counts the second failure.
    const second = await haraka.waitFor((r) => r.hook === 'deferred' && r.domain === 'defer.test' && r.num_failures === 2);
    assert.equal(second.rcpts.length, 2);
  });

  it('defers twice, then delivers the retry to the real MX (times)', async () => {
    await api.add({ domain: 'retry.test', code: 421, extended: '4.4.5', description: 'Busy', times: 2, phase: 'mail' });
    sink.clear();
    await send(['x@retry.test']);
    const delivered = await haraka.waitFor((r) => r.hook === 'delivered' && r.domain === 'retry.test');
    const deferrals = haraka.reports.filter((r) => r.hook === 'deferred' && r.domain === 'retry.test');
    assert.equal(deferrals.length, 2);
    assert.equal(deferrals[0]!.err, 'Upstream error: 421 4.4.5 Busy');
    assert.equal(delivered.num_failures, 2);
    assert.deepEqual(sink.messages.filter((m) => m.envelope.rcptTo.includes('x@retry.test')).length, 1);
  });

  it('a disconnect after DATA defers (Haraka\'s own reaction), then the retry is delivered (times: 1)', async () => {
    await api.add({ domain: 'drop.test', fault: 'disconnect', phase: 'data', times: 1 });
    sink.clear();
    await send(['x@drop.test']);
    const deferred = await haraka.waitFor((r) => r.hook === 'deferred' && r.domain === 'drop.test');
    assert.equal(deferred.num_failures, 1, JSON.stringify(deferred));
    const delivered = await haraka.waitFor((r) => r.hook === 'delivered' && r.domain === 'drop.test');
    assert.equal(delivered.num_failures, 1);
    assert.equal(sink.messages.filter((m) => m.envelope.rcptTo.includes('x@drop.test')).length, 1);
  });

  it('a hang at MAIL closed by the server after a short delay defers', async () => {
    await api.add({ domain: 'hang.test', fault: 'hang', phase: 'mail', delay: 300, times: 1 });
    await send(['x@hang.test']);
    const deferred = await haraka.waitFor((r) => r.hook === 'deferred' && r.domain === 'hang.test');
    assert.equal(deferred.num_failures, 1, JSON.stringify(deferred));
  });

  it('a 421 at RCPT (the connection then closes) defers that recipient with the exact reply', async () => {
    await api.add({ domain: 'close.test', code: 421, extended: '4.7.0', description: 'Too many connections' });
    await send(['x@close.test']);
    const deferred = await haraka.waitFor((r) => r.hook === 'deferred' && r.domain === 'close.test');
    assert.equal(deferred.err, 'Some recipients temp failed: <x@close.test>');
    assert.deepEqual(deferred.rcpts.map((r) => [r.dsn_action, r.dsn_smtp_code, r.dsn_smtp_extc, r.dsn_smtp_response]),
      [['delayed', '421', '4.7.0', 'Too many connections']]);
  });

  it('bounces a 5xx with its text, and the DSN goes to the sender', async () => {
    await api.add({ domain: 'bounce.test', code: 550, extended: '5.7.1', description: 'Blocked by policy' });
    sink.clear();
    await send(['x@bounce.test']);
    const bounce = await haraka.waitFor((r) => r.hook === 'bounce' && r.domain === 'bounce.test');
    assert.equal(bounce.err, 'Some recipients failed: <x@bounce.test>');
    assert.deepEqual([bounce.rcpts[0]!.dsn_action, bounce.rcpts[0]!.dsn_smtp_code, bounce.rcpts[0]!.dsn_smtp_extc, bounce.rcpts[0]!.reason],
      ['failed', '550', '5.7.1', '550 5.7.1 Blocked by policy']);
    await haraka.waitFor((r) => r.hook === 'delivered' && r.domain === 'sender.test');
    const dsn = sink.messages.find((m) => m.envelope.rcptTo.includes('app@sender.test'));
    assert.ok(dsn, 'the DSN reached the sender');
    assert.equal(dsn.envelope.mailFrom, '');
    assert.match(dsn.raw.toString(), /550 5\.7\.1 Blocked by policy/);
  });

  it('selects by the envelope sender (todo.mail_from)', async () => {
    // defer.test: its earlier test is over, so this message's later retry (delivered) disturbs no one.
    await api.add({ sender: 'other@sender.test', domain: 'defer.test', code: 550 });
    await api.add({ sender: 'sender.test', domain: 'defer.test', code: 451, extended: '4.7.1', description: 'Sender throttled' });
    await send(['s@defer.test']);
    const deferred = await haraka.waitFor((r) => r.hook === 'deferred' && r.domain === 'defer.test' && r.rcpts.some((x) => x.dsn_smtp_response === 'Sender throttled'));
    assert.deepEqual(deferred.rcpts.map((r) => [r.dsn_smtp_code, r.dsn_smtp_response]), [['451', 'Sender throttled']]);
  });

  it('counts a forced 2xx as delivered without delivering', async () => {
    // At DATA the forced 2xx is the final reply Haraka reports; at RCPT (the default phase) it would answer RCPT only.
    await api.add({ domain: 'ok.test', code: 250, extended: '2.0.0', description: 'Queued as FORCED', phase: 'data' });
    sink.clear();
    await send(['x@ok.test']);
    const delivered = await haraka.waitFor((r) => r.hook === 'delivered' && r.domain === 'ok.test');
    assert.equal(delivered.response, 'Queued as FORCED'); // Haraka reports the text after the enhanced code
    assert.equal(sink.messages.filter((m) => m.envelope.rcptTo.includes('x@ok.test')).length, 0);
  });

  it('delivers a domain no rule matches to the real MX', async () => {
    await api.add({ domain: 'defer.test', code: 451 });
    sink.clear();
    await send(['x@plain.test']);
    await haraka.waitFor((r) => r.hook === 'delivered' && r.domain === 'plain.test');
    assert.deepEqual(sink.messages.filter((m) => m.envelope.rcptTo.includes('x@plain.test')).length, 1);
  });

  it('attempts carry no tls: the plugin decides at get_mx, before Haraka connects to any MX', async () => {
    await send(['tls@plain.test']);
    // Haraka checks (in the primary) before it delivers (in a worker, whose reports the primary relays).
    await haraka.waitFor((r) => r.hook === 'delivered' && r.rcpts.some((x) => x.address === 'tls@plain.test'));
    assert.deepEqual(haraka.checks.filter((c) => c.recipient === 'tls@plain.test').map((c) => c.phase), ['rcpt', 'data']);
    assert.deepEqual(new Set(haraka.checks.map((c) => c.phase)), new Set(['connect', 'mail', 'rcpt', 'data']));
    assert.deepEqual(new Set(haraka.checks.map((c) => c.tls)), new Set(['absent']));
  });

  it('takes pool and tags from the transaction notes', async () => {
    await api.add({ pool: 'shared-pool-1', domain: 'pool.test', code: 553, extended: '5.7.1', description: 'Pool blocked' });
    await api.add({ tag: 'Campaign1', code: 452, extended: '4.2.2', description: 'Campaign held' });
    sink.clear();
    await send(['p@pool.test'], { 'X-Pool': 'shared-pool-1' });
    const bounce = await haraka.waitFor((r) => r.hook === 'bounce' && r.rcpts.some((x) => x.address === 'p@pool.test'));
    assert.equal(bounce.rcpts[0]!.reason, '553 5.7.1 Pool blocked');
    await send(['t@pool.test'], { 'X-Campaign': 'Other,Campaign1' });
    const held = await haraka.waitFor((r) => r.hook === 'deferred' && r.rcpts.some((x) => x.address === 't@pool.test'));
    assert.equal(held.rcpts[0]!.reason, '452 4.2.2 Campaign held');
    await send(['n@pool.test'], { 'X-Pool': 'other-pool' }); // neither rule: delivered
    await haraka.waitFor((r) => r.hook === 'delivered' && r.domain === 'pool.test');
    assert.equal(sink.messages.filter((m) => m.envelope.rcptTo.includes('n@pool.test')).length, 1);
  });

  it('answers per recipient: a forced recipient fails, the others of that message are deferred, never lost', async () => {
    await api.add({ recipient: 'bad@mixed.test', code: 550, extended: '5.1.1', description: 'No such user' });
    sink.clear();
    await send(['bad@mixed.test', 'good@mixed.test']);
    const bounce = await haraka.waitFor((r) => r.hook === 'bounce' && r.domain === 'mixed.test');
    assert.deepEqual(bounce.rcpts.map((r) => r.address), ['bad@mixed.test']);
    // The unforced recipient is retried alone and then delivered for real.
    await haraka.waitFor((r) => r.hook === 'delivered' && r.domain === 'mixed.test');
    assert.deepEqual(sink.messages.filter((m) => m.envelope.rcptTo.includes('good@mixed.test')).length, 1);
  });
});
