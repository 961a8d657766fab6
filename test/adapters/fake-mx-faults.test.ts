// Connection faults of the fake MX on the wire: raw sockets see exactly what happened, nodemailer
// sees what an application sees.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { Interceptor } from '../../src/index.js';
import { createFakeMx, type FakeMx } from '../../src/testing/index.js';
import { rawClient, type RawClient } from '../helpers/raw-smtp.js';

let ic: Interceptor;
let mx: FakeMx;
const transport = (extra: Record<string, unknown> = {}) =>
  nodemailer.createTransport({ host: mx.host, port: mx.port, secure: false, ignoreTLS: true, ...extra });
const mail = { from: 'app@example.com', to: 'bob@example.org', subject: 'hello', text: 'body' };

/** A raw session up to (not including) the command of `phase`. */
async function upTo(phase: 'mail' | 'rcpt' | 'data'): Promise<RawClient> {
  const c = await rawClient(mx.port);
  assert.match(await c.reply(), /^220 /);
  c.send('EHLO client.test\r\n');
  assert.match(await c.reply(), /^250 /m);
  if (phase === 'mail') return c;
  c.send('MAIL FROM:<app@example.com>\r\n');
  assert.match(await c.reply(), /^250 /);
  if (phase === 'rcpt') return c;
  c.send('RCPT TO:<bob@example.org>\r\n');
  assert.match(await c.reply(), /^250 /);
  return c;
}

const COMMAND = { mail: 'MAIL FROM:<app@example.com>\r\n', rcpt: 'RCPT TO:<bob@example.org>\r\n', data: 'DATA\r\n' } as const;
const MESSAGE = 'Subject: hi\r\n\r\nbody\r\n.\r\n';

/** How the connection ended: a clean close (and what was sent unread) or a reset. */
async function ending(c: RawClient): Promise<{ how: 'close' | 'reset'; rest: string }> {
  let reset = false;
  c.socket.on('error', (err: NodeJS.ErrnoException) => { if (err.code === 'ECONNRESET') reset = true; });
  const rest = await c.closed();
  return { how: reset ? 'reset' : 'close', rest };
}

describe('fake MX faults on the wire', () => {
  before(async () => {
    ic = new Interceptor({ seed: 11 });
    mx = await createFakeMx({ interceptor: ic });
  });
  after(() => mx.close());
  beforeEach(async () => {
    await ic.clear();
    mx.clear();
  });

  for (const fault of ['disconnect', 'reset'] as const) {
    const how = fault === 'disconnect' ? 'close' : 'reset';
    it(`${fault} at connect: accepted, then ended before any greeting`, async () => {
      await ic.add({ mta: '127.0.0.1', fault, phase: 'connect' });
      // A bare socket: the reset may come before node reports the connection as established.
      const socket = connect(mx.port, '127.0.0.1');
      let received = '';
      let reset = false;
      socket.on('data', (chunk: Buffer) => { received += chunk.toString('latin1'); });
      socket.on('error', (err: NodeJS.ErrnoException) => { if (err.code === 'ECONNRESET') reset = true; });
      await new Promise((resolve) => socket.once('close', resolve));
      assert.deepEqual({ how: reset ? 'reset' : 'close', received }, { how, received: '' });
    });

    for (const phase of ['mail', 'rcpt'] as const) {
      it(`${fault} at ${phase}: the command is read, no reply`, async () => {
        await ic.add({ domain: 'example.org', mta: '127.0.0.1', fault, phase });
        if (phase === 'mail') await ic.add({ mta: '127.0.0.1', fault, phase });
        const c = await upTo(phase);
        c.send(COMMAND[phase]);
        assert.deepEqual(await ending(c), { how, rest: '' });
      });
    }

    it(`${fault} at data: after the whole message, before the final reply; the message is kept`, async () => {
      await ic.add({ domain: 'example.org', fault, phase: 'data' });
      const c = await upTo('data');
      c.send('DATA\r\n');
      assert.match(await c.reply(), /^354 /);
      c.send(MESSAGE);
      assert.deepEqual(await ending(c), { how, rest: '' });
      assert.equal(mx.messages.length, 1, 'the server has the message: a retry makes a duplicate');
    });

    it(`${fault} mid-DATA after afterBytes: cut, nothing kept`, async () => {
      await ic.add({ domain: 'example.org', fault, phase: 'data', afterBytes: 10 });
      const c = await upTo('data');
      c.send('DATA\r\n');
      assert.match(await c.reply(), /^354 /);
      c.send('Subject: a long enough header\r\n');
      assert.deepEqual(await ending(c), { how, rest: '' });
      assert.equal(mx.messages.length, 0);
    });
  }

  it('a cut after more bytes than the message has happens at its end, and keeps nothing', async () => {
    await ic.add({ domain: 'example.org', fault: 'disconnect', phase: 'data', afterBytes: 100_000 });
    const c = await upTo('data');
    c.send('DATA\r\n');
    assert.match(await c.reply(), /^354 /);
    c.send(MESSAGE);
    assert.deepEqual(await ending(c), { how: 'close', rest: '' });
    assert.equal(mx.messages.length, 0);
  });

  it('hang: no reply, closed after delay', async () => {
    await ic.add({ domain: 'example.org', fault: 'hang', delay: 300 });
    const c = await upTo('rcpt');
    const start = Date.now();
    c.send(COMMAND.rcpt);
    c.send('NOOP\r\n'); // nothing more is answered either
    assert.deepEqual(await ending(c), { how: 'close', rest: '' });
    assert.ok(Date.now() - start >= 290, `closed after ${Date.now() - start} ms`);
  });

  it('hang without delay: the client gives up (nodemailer socketTimeout, ETIMEDOUT)', async () => {
    await ic.add({ domain: 'example.org', fault: 'hang' });
    const err = await transport({ socketTimeout: 300 }).sendMail(mail).then(() => assert.fail('sent'), (e: Error & { code?: string }) => e);
    assert.equal(err.code, 'ETIMEDOUT');
  });

  it('throttle: the reply and later ones arrive slowly but whole', async () => {
    await ic.add({ mta: '127.0.0.1', fault: 'throttle', bytesPerSecond: 100, phase: 'connect' });
    const start = Date.now();
    const c = await rawClient(mx.port);
    const greeting = await c.reply();
    assert.match(greeting, /^220 .*\r\n$/);
    const elapsed = Date.now() - start;
    // "220 <host> ESMTP\r\n" at 100 octets/s, in slices every 100 ms.
    assert.ok(elapsed >= ((greeting.length - 10) / 100) * 1000 - 50, `greeting of ${greeting.length} octets in ${elapsed} ms`);
    c.send('NOOP\r\n');
    const t = Date.now();
    assert.match(await c.reply(), /^250 /);
    assert.ok(Date.now() - t >= 50, 'later replies are throttled too');
    c.send('QUIT\r\n');
    assert.match(await c.reply(), /^221 /);
  });

  it('drop the connection after DATA the first time, then accept: one rule, two copies', async () => {
    await ic.add({ domain: 'example.org', fault: 'disconnect', phase: 'data', times: 1 });
    const err = await transport().sendMail(mail).then(() => assert.fail('sent'), (e: Error & { code?: string; command?: string }) => e);
    assert.deepEqual([err.code, err.command, err.message], ['ECONNECTION', 'CONN', 'Connection closed unexpectedly']);
    const info = await transport().sendMail(mail);
    assert.deepEqual(info.accepted, ['bob@example.org']);
    assert.equal(mx.messages.length, 2, 'the application sent it twice');
  });

  it('the first two connections are refused (reset), then accepted', async () => {
    await ic.add({ mta: '127.0.0.1', fault: 'reset', phase: 'connect', times: 2 });
    for (let i = 0; i < 2; i++) {
      const err = await transport().sendMail(mail).then(() => assert.fail('sent'), (e: Error & { code?: string }) => e);
      assert.equal(err.code, 'ESOCKET');
    }
    assert.deepEqual((await transport().sendMail(mail)).accepted, ['bob@example.org']);
  });

  // A cut is decided at the DATA command, the other data-phase rules at the end of the message: each
  // rule must still be checked (counted, drawn) once per message, whatever the cut's draw was.
  it('a cut whose message ends in the same read is checked once and keeps nothing', async () => {
    const cut = await ic.add({ domain: 'example.org', fault: 'reset', phase: 'data', afterBytes: 10 });
    for (let round = 1; round <= 5; round++) {
      const c = await rawClient(mx.port);
      await c.reply();
      c.send('EHLO client.test\r\nMAIL FROM:<app@example.com>\r\nRCPT TO:<bob@example.org>\r\n');
      for (let i = 0; i < 3; i++) await c.reply();
      c.send('DATA\r\n');
      assert.match(await c.reply(), /^354 /);
      c.send('Subject: hi\r\n\r\nmore than ten octets\r\n.\r\n'); // one write: cut and end in one chunk
      await c.closed();
      assert.equal(ic.get(cut.id)?.hits, round);
    }
    assert.equal(mx.messages.length, 0);
  });

  it('a cut that is not drawn leaves the next rule counted once, and is not drawn again at the end', async () => {
    const cut = await ic.add({ recipient: 'bob@example.org', fault: 'disconnect', phase: 'data', afterBytes: 10, probability: 0.5 });
    const later = await ic.add({ domain: 'example.org', code: 451, extended: '4.3.0', description: 'try later', phase: 'data' });
    const seen = { cut: 0, later: 0 };
    for (let i = 0; i < 30; i++) {
      const err = await transport().sendMail(mail).then(() => assert.fail(`message ${i} accepted`), (e: Error & { code?: string; responseCode?: number }) => e);
      if (err.code === 'ECONNECTION') seen.cut++;
      else if (err.responseCode === 451) seen.later++;
      else assert.fail(`message ${i}: ${err.message}`);
    }
    assert.ok(seen.cut > 0 && seen.later > 0, `both rules played: ${JSON.stringify(seen)}`);
    assert.deepEqual({ cut: ic.get(cut.id)?.hits, later: ic.get(later.id)?.hits }, seen, 'hits are what the client saw');
    assert.equal(mx.messages.length, 0, 'a cut keeps nothing, and no cut happened after the whole message');
  });

  it('follows rules as they change: a cut added, turned into a reply, removed; stops following on close', async () => {
    const code = (p: Promise<unknown>) => p.then(() => 'sent', (e: Error & { code?: string; responseCode?: number }) => e.code ?? 'error');
    const selector = { recipient: 'bob@example.org', phase: 'data' } as const;
    await ic.add({ ...selector, fault: 'disconnect', afterBytes: 10 });
    assert.equal(await code(transport().sendMail(mail)), 'ECONNECTION');
    await ic.add({ ...selector, code: 452 }); // the same selector: an update
    assert.equal(await code(transport().sendMail(mail)), 'EMESSAGE');
    await ic.add({ ...selector, fault: 'reset', afterBytes: 10, times: 1 }); // removed once used
    assert.equal(await code(transport().sendMail(mail)), 'ESOCKET');
    assert.equal(await code(transport().sendMail(mail)), 'sent');
    const other = new Interceptor();
    const listening = () => ['rule:added', 'rule:updated', 'rule:removed'].map((e) => other.listenerCount(e as 'rule:added'));
    const idle = listening();
    const extra = await createFakeMx({ interceptor: other });
    assert.notDeepEqual(listening(), idle);
    await extra.close();
    assert.deepEqual(listening(), idle);
  });
});
