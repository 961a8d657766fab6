// The fake MX (the library's SMTP engine), driven by real nodemailer over loopback.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { Interceptor } from '../../src/index.js';
import { createFakeMx, type FakeMx, record } from '../../src/testing/index.js';
import { rawClient } from '../helpers/raw-smtp.js';

let ic: Interceptor;
let mx: FakeMx;
const transport = () => nodemailer.createTransport({ host: mx.host, port: mx.port, secure: false, ignoreTLS: true, pool: false });
const mail = (to: string | string[], extra: Record<string, unknown> = {}) => ({ from: 'app@example.com', to, subject: 'hello', text: 'body', ...extra });

type SendError = Error & { code?: string; recipient?: string; responseCode?: number; response?: string; command?: string; rejected?: string[]; rejectedErrors?: (Error & { recipient?: string; response?: string; responseCode?: number })[] };

describe('fake MX with nodemailer', () => {
  before(async () => {
    ic = new Interceptor({ seed: 7 });
    mx = await createFakeMx({ interceptor: ic });
  });
  after(() => mx.close());
  beforeEach(async () => {
    await ic.clear();
    mx.clear();
  });

  it('accepts and stores mail no rule forces, with envelope, headers and raw message', async () => {
    const info = await transport().sendMail(mail('bob@example.org', { headers: { 'X-Campaign': 'spring' } }));
    assert.deepEqual(info.accepted, ['bob@example.org']);
    assert.equal(mx.messages.length, 1);
    const [message] = mx.messages;
    assert.deepEqual(message!.envelope, { mailFrom: 'app@example.com', rcptTo: ['bob@example.org'] });
    assert.deepEqual(message!.headers['subject'], ['hello']);
    assert.deepEqual(message!.headers['x-campaign'], ['spring']);
    assert.match(message!.raw.toString(), /\r\n\r\nbody/);
  });

  it('rejects some recipients and accepts the rest in one transaction, with the exact reply', async () => {
    await ic.add({ recipient: 'gone@example.org', code: 550, extended: '5.1.1', description: 'no such user' });
    await ic.add({ domain: 'slow.example', code: 451, extended: '4.7.1', description: 'try later' });
    const info = await transport().sendMail(mail(['gone@example.org', 'bob@example.org', 'x@slow.example']));
    assert.deepEqual(info.accepted, ['bob@example.org']);
    assert.deepEqual(info.rejected, ['gone@example.org', 'x@slow.example']);
    const errors = (info as unknown as { rejectedErrors: SendError[] }).rejectedErrors;
    assert.deepEqual(errors.map((e) => [e.recipient, e.response, e.responseCode, e.code, e.command]), [
      ['gone@example.org', '550 5.1.1 no such user', 550, 'EENVELOPE', 'RCPT TO'],
      ['x@slow.example', '451 4.7.1 try later', 451, 'EENVELOPE', 'RCPT TO'],
    ]);
    assert.deepEqual(mx.messages.map((m) => m.envelope.rcptTo), [['bob@example.org']]);
  });

  it('defers twice, then accepts: times drives fail-N-then-pass, and the recorder shows it', async () => {
    const rec = record(ic);
    const rule = await ic.add({ domain: 'gmail.com', code: 421, extended: '4.7.0', description: 'busy', times: 2 });
    const outcomes: string[] = [];
    for (let i = 0; i < 3; i++) {
      try {
        await transport().sendMail(mail('bob@gmail.com'));
        outcomes.push('sent');
      } catch (err) {
        outcomes.push(`${(err as SendError).responseCode} ${(err as SendError).response}`);
      }
    }
    assert.deepEqual(outcomes, ['421 421 4.7.0 busy', '421 421 4.7.0 busy', 'sent']);
    assert.equal(rec.byRule(rule.id).length, 2);
    assert.equal(rec.attempts.filter((a) => a.attempt.phase === 'rcpt' && !a.forced).length, 1);
    rec.assertAllConsumed();
    rec.stop();
  });

  it('applies connect, mail and data phase rules', async () => {
    await ic.add({ code: 554, extended: '5.7.1', description: 'go away', phase: 'connect' });
    const connect = await transport().sendMail(mail('a@example.org')).catch((e: SendError) => e);
    assert.ok(connect instanceof Error);
    assert.equal((connect as SendError).responseCode, 554);
    assert.match((connect as SendError).response ?? connect.message, /554 5\.7\.1 go away/);
    await ic.clear();

    await ic.add({ tag: 'blocked', code: 553, extended: '5.7.1', description: 'sender blocked', phase: 'mail' });
    const mailErr = await transport().sendMail(mail('a@example.org', { envelope: { from: 'bounces+blocked@example.com', to: 'a@example.org' } })).catch((e: SendError) => e);
    assert.equal((mailErr as SendError).command, 'MAIL FROM');
    assert.equal((mailErr as SendError).response, '553 5.7.1 sender blocked');
    await ic.clear();

    await ic.add({ tag: 'spammy', code: 554, extended: '5.7.1', description: 'content rejected', phase: 'data' });
    const dataErr = await transport().sendMail(mail('a@example.org', { headers: { 'X-Campaign': 'spammy' } })).catch((e: SendError) => e);
    assert.equal((dataErr as SendError).code, 'EMESSAGE');
    assert.equal((dataErr as SendError).response, '554 5.7.1 content rejected');
    assert.equal(mx.messages.length, 0);
    await transport().sendMail(mail('a@example.org', { headers: { 'X-Campaign': 'fine' } }));
    assert.equal(mx.messages.length, 1);
  });

  it('survives odd tag headers and matches UTF-8 tags', async () => {
    await ic.add({ tag: 'Café–Spring', code: 554, extended: '5.7.1', description: 'held', phase: 'data' });
    // A TAB inside a tag used to escape the DATA handler as an uncaught exception.
    await transport().sendMail(mail('a@example.org', { headers: { 'X-Campaign': 'promo\tspring, ok' } }));
    assert.equal(mx.messages.length, 1, 'the invalid tag is skipped and the mail accepted');
    const held = await transport().sendMail(mail('a@example.org', { headers: { 'X-Campaign': 'Café–Spring' } })).catch((e: SendError) => e);
    assert.equal((held as SendError).response, '554 5.7.1 held');
  });

  it('honours delay before replying', async () => {
    await ic.add({ recipient: 'slow@example.org', code: 250, delay: 300 });
    const started = performance.now();
    await transport().sendMail(mail('slow@example.org'));
    assert.ok(performance.now() - started >= 290, 'the forced reply waited for its delay');
  });

  it('expires rules on the injected clock', async () => {
    let t = Date.parse('2026-01-01T00:00:00Z');
    const clocked = new Interceptor({ now: () => t });
    const server = await createFakeMx({ interceptor: clocked });
    try {
      await clocked.add({ domain: 'gmail.com', code: 451, ttl: 60 });
      const send = () => nodemailer.createTransport({ host: server.host, port: server.port, secure: false, ignoreTLS: true })
        .sendMail(mail('bob@gmail.com')).then(() => 'sent', (e: SendError) => String(e.responseCode));
      assert.equal(await send(), '451');
      t += 59_000;
      assert.equal(await send(), '451');
      t += 2_000;
      assert.equal(await send(), 'sent');
      assert.equal(clocked.size, 0);
    } finally {
      await server.close();
    }
  });

  it('closes promptly while a client keeps a pooled connection open', async () => {
    const server = await createFakeMx({ interceptor: new Interceptor() });
    const pooled = nodemailer.createTransport({ host: server.host, port: server.port, secure: false, ignoreTLS: true, pool: true });
    await pooled.sendMail(mail('bob@example.org'));
    const started = performance.now();
    await server.close();
    pooled.close();
    assert.ok(performance.now() - started < 5000, `close took ${Math.round(performance.now() - started)} ms`);
  });

  it('reproduces probability with a seed', async () => {
    const run = async () => {
      const seeded = new Interceptor({ seed: 99 });
      const server = await createFakeMx({ interceptor: seeded });
      await seeded.add({ domain: 'flaky.example', code: 451, probability: 0.5 });
      const t = nodemailer.createTransport({ host: server.host, port: server.port, secure: false, ignoreTLS: true });
      const outcomes: string[] = [];
      for (let i = 0; i < 12; i++) outcomes.push(await t.sendMail(mail('x@flaky.example')).then(() => 'ok', () => 'deferred'));
      await server.close();
      return outcomes.join(',');
    };
    const first = await run();
    assert.equal(await run(), first);
    assert.match(first, /ok/);
    assert.match(first, /deferred/);
  });

  it("forces MailerQ's phase-less {tag: 'Campaign1', code: 421} on a message whose header carries the tag", async () => {
    const rule = await ic.add({ tag: 'Campaign1', code: 421 });
    const err = await transport().sendMail(mail('bob@example.org', { headers: { 'X-Campaign': 'Campaign1' } })).catch((e: SendError) => e);
    assert.ok(err instanceof Error);
    assert.deepEqual([(err as SendError).code, (err as SendError).responseCode, (err as SendError).response], ['EMESSAGE', 421, '421 4.0.0 forced deferring']);
    assert.equal(rule.count, 1);
    assert.equal(mx.messages.length, 0);
    // Known from the MAIL FROM extension, the same rule answers at RCPT, once.
    const early = await transport().sendMail(mail('bob@example.org', { envelope: { from: 'bounces+Campaign1@example.com', to: 'bob@example.org' }, headers: { 'X-Campaign': 'Campaign1' } })).catch((e: SendError) => e);
    // nodemailer reports any 421 as the server closing the connection (command 'CONN').
    assert.deepEqual([(early as SendError).responseCode, (early as SendError).response], [421, '421 4.0.0 forced deferring']);
    assert.equal(mx.messages.length, 0);
    assert.equal(rule.count, 2);
    await transport().sendMail(mail('bob@example.org', { headers: { 'X-Campaign': 'Other' } }));
    assert.equal(mx.messages.length, 1);
  });

  it('never counts or draws a rule without a tag twice because the header carried tags', async () => {
    const counted = await ic.add({ domain: 'example.org', code: 250, extended: '2.1.5', description: 'counted', times: 3 });
    await transport().sendMail(mail('bob@example.org', { headers: { 'X-Campaign': 'Campaign1' } }));
    assert.equal(counted.count, 1, 'checked at RCPT only');
    // A probabilistic header-tag rule that a rule without a tag follows is not drawn at DATA (docs/rules.md).
    await ic.add({ tag: 'Campaign1', code: 451, probability: 0.999 });
    await transport().sendMail(mail('bob@example.org', { headers: { 'X-Campaign': 'Campaign1' } }));
    assert.equal(counted.count, 2);
    assert.equal(mx.messages.length, 2);
  });

  it('gives a forced 2xx at MAIL and RCPT exactly, and keeps a 554 greeting open until QUIT', async () => {
    await ic.add({ tag: 'fine', code: 250, extended: '2.1.0', description: 'sender looks fine', phase: 'mail' });
    await ic.add({ recipient: 'bob@example.org', code: 251, extended: '2.1.5', description: 'will forward' });
    const c = await rawClient(mx.port, mx.host);
    await c.reply();
    for (const line of ['EHLO client.test', 'MAIL FROM:<bounces+fine@example.com>', 'RCPT TO:<bob@example.org>']) c.send(`${line}\r\n`);
    await c.reply();
    assert.deepEqual([await c.reply(), await c.reply()], ['250 2.1.0 sender looks fine\r\n', '251 2.1.5 will forward\r\n']);
    c.socket.destroy();
    await ic.add({ code: 554, extended: '5.7.1', description: 'no service', phase: 'connect' });
    const refused = await rawClient(mx.port, mx.host);
    assert.equal(await refused.reply(), '554 5.7.1 no service\r\n');
    refused.send('EHLO client.test\r\n');
    assert.equal(await refused.reply(), '503 5.5.1 Bad sequence of commands\r\n');
    refused.send('QUIT\r\n');
    assert.equal(await refused.closed(), '221 2.0.0 Bye\r\n');
  });

  it('answers 451 4.3.0 and warns when its onMessage throws, without ending the process', async () => {
    const server = await createFakeMx({ interceptor: new Interceptor(), onMessage: () => { throw new Error('store full'); } });
    try {
      const warned = new Promise<Error>((resolve) => process.once('warning', resolve));
      const err = await nodemailer.createTransport({ host: server.host, port: server.port, secure: false, ignoreTLS: true })
        .sendMail(mail('bob@example.org')).catch((e: SendError) => e);
      assert.equal((err as SendError).response, '451 4.3.0 Requested action aborted: local error in processing');
      assert.equal((await warned).message, 'store full');
    } finally {
      await server.close();
    }
  });
});
