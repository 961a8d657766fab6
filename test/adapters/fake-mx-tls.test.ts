// STARTTLS in the fake MX (RFC 3207) and the tls faults, with real nodemailer and raw sockets.
import assert from 'node:assert/strict';
import { connect as tlsConnect } from 'node:tls';
import { after, before, beforeEach, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { Interceptor } from '../../src/index.js';
import { createFakeMx, type FakeMx, record, TEST_CERTIFICATE, TEST_KEY } from '../../src/testing/index.js';
import { rawClient, type RawClient } from '../helpers/raw-smtp.js';

let ic: Interceptor;
let mx: FakeMx;
const mail = { from: 'app@example.com', to: 'bob@example.org', subject: 'hello', text: 'body' };
const strict = () => nodemailer.createTransport({ host: mx.host, port: mx.port, requireTLS: true, tls: { ca: TEST_CERTIFICATE, servername: 'localhost' } });
type SendError = Error & { code?: string; command?: string; response?: string; responseCode?: number };
const failure = (p: Promise<unknown>) => p.then(() => assert.fail('sent'), (e: SendError) => e);

async function ehlo(): Promise<{ c: RawClient; reply: string }> {
  const c = await rawClient(mx.port);
  assert.match(await c.reply(), /^220 /);
  c.send('EHLO client.test\r\n');
  return { c, reply: await c.reply() };
}

describe('fake MX STARTTLS', () => {
  before(async () => {
    ic = new Interceptor();
    mx = await createFakeMx({ interceptor: ic, tls: true });
  });
  after(() => mx.close());
  beforeEach(async () => {
    await ic.clear();
    mx.clear();
  });

  it('a client requiring TLS delivers; the message and its attempts record TLS', async () => {
    const recorder = record(ic);
    const info = await strict().sendMail(mail);
    assert.deepEqual(info.accepted, ['bob@example.org']);
    assert.equal(mx.messages[0]?.tls, true);
    await nodemailer.createTransport({ host: mx.host, port: mx.port, ignoreTLS: true }).sendMail(mail);
    assert.equal(mx.messages[1]?.tls, false);
    recorder.stop();
    // The greeting is always in clear; after STARTTLS every command is over TLS.
    const tls = recorder.attempts.map((a) => `${a.attempt.phase}:${String(a.attempt.tls)}`);
    assert.deepEqual(tls, ['connect:false', 'mail:true', 'rcpt:true', 'data:true', 'connect:false', 'mail:false', 'rcpt:false', 'data:false']);
  });

  it('a tls attempt field changes no rule\'s match', async () => {
    const rule = await ic.add({ recipient: 'bob@example.org', code: 450 });
    for (const tls of [true, false, undefined]) assert.equal(ic.check({ recipient: 'bob@example.org', phase: 'rcpt', ...(tls === undefined ? {} : { tls }) })?.rule.id, rule.id);
  });

  it('RFC 3207: offered after EHLO, the session starts over after the handshake, no second STARTTLS', async () => {
    const { c, reply } = await ehlo();
    assert.match(reply, /^250 STARTTLS\r\n/m);
    c.send('STARTTLS\r\n');
    assert.equal(await c.reply(), '220 2.0.0 Ready to start TLS\r\n');
    const secure = tlsConnect({ socket: c.socket, ca: TEST_CERTIFICATE, servername: 'localhost' });
    await new Promise((resolve, reject) => { secure.once('secureConnect', resolve); secure.once('error', reject); });
    const lines: string[] = [];
    secure.on('data', (d: Buffer) => lines.push(d.toString('latin1')));
    const next = async () => { while (lines.length === 0) await new Promise((r) => setTimeout(r, 5)); return lines.shift()!; };
    secure.write('MAIL FROM:<a@example.com>\r\n');
    assert.match(await next(), /^503 5\.5\.1 Send EHLO or HELO first/);
    secure.write('EHLO client.test\r\n');
    const again = await next();
    assert.doesNotMatch(again, /STARTTLS/);
    secure.write('STARTTLS\r\n');
    assert.equal(await next(), '503 5.5.1 TLS already active\r\n');
    secure.destroy();
  });

  it('tls unavailable: STARTTLS is not advertised, and a client requiring it refuses to send', async () => {
    await ic.add({ mta: '127.0.0.1', fault: 'tls', tls: 'unavailable' });
    const { c, reply } = await ehlo();
    assert.doesNotMatch(reply, /STARTTLS/);
    c.socket.destroy();
    const err = await failure(strict().sendMail(mail));
    assert.equal(err.code, 'ETLS');
    assert.equal(mx.messages.length, 0);
  });

  it('tls refuse: 454 4.7.0 with the rule text; a client requiring TLS refuses to send in clear', async () => {
    await ic.add({ mta: '127.0.0.1', fault: 'tls', tls: 'refuse', description: 'not now' });
    const { c } = await ehlo();
    c.send('STARTTLS\r\n');
    assert.equal(await c.reply(), '454 4.7.0 not now\r\n');
    c.send('QUIT\r\n');
    await c.closed();
    const err = await failure(strict().sendMail(mail));
    assert.equal(err.code, 'ETLS');
    assert.equal(mx.messages.length, 0);
  });

  it('tls fail: 220 then the handshake is aborted', async () => {
    await ic.add({ mta: '127.0.0.1', fault: 'tls', tls: 'fail', times: 2 });
    const { c } = await ehlo();
    c.send('STARTTLS\r\n');
    assert.match(await c.reply(), /^220 /);
    const secure = tlsConnect({ socket: c.socket, ca: TEST_CERTIFICATE, servername: 'localhost' });
    const err = await new Promise<Error>((resolve, reject) => { secure.once('error', resolve); secure.once('secureConnect', () => reject(new Error('handshake completed'))); });
    assert.match(err.message, /socket disconnected before secure TLS connection|ECONNRESET/);
    // nodemailer reports a handshake the server drops as a socket error.
    const sent = await failure(strict().sendMail(mail));
    assert.equal(sent.code, 'ESOCKET');
    assert.match(sent.message, /before secure TLS connection was established/);
    assert.deepEqual((await strict().sendMail(mail)).accepted, ['bob@example.org'], 'times: 2, then TLS works');
  });
});

describe('fake MX TLS options', () => {
  it('your own key and certificate; without tls, STARTTLS is neither offered nor accepted', async () => {
    const own = await createFakeMx({ interceptor: new Interceptor(), tls: { key: TEST_KEY, cert: TEST_CERTIFICATE } });
    try {
      const t = nodemailer.createTransport({ host: own.host, port: own.port, requireTLS: true, tls: { ca: TEST_CERTIFICATE, servername: 'localhost' } });
      assert.deepEqual((await t.sendMail(mail)).accepted, ['bob@example.org']);
    } finally {
      await own.close();
    }
    const plain = await createFakeMx({ interceptor: new Interceptor() });
    try {
      const c = await rawClient(plain.port);
      await c.reply();
      c.send('EHLO x\r\n');
      assert.doesNotMatch(await c.reply(), /STARTTLS/);
      c.send('STARTTLS\r\n');
      assert.match(await c.reply(), /^502 /);
      c.socket.destroy();
    } finally {
      await plain.close();
    }
  });

  it('a key that does not match is a TypeError naming tls', async () => {
    await assert.rejects(createFakeMx({ interceptor: new Interceptor(), tls: { key: 'nope', cert: TEST_CERTIFICATE } }), (err: Error) => err instanceof TypeError && /tls\.key and tls\.cert/.test(err.message));
  });
});
