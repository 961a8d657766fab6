// The engine (as the fake MX) driven by SMTP clients this project did not write: nodemailer (pooled and
// not), Python's smtplib, swaks and Postfix's smtp-source, over loopback.
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { Interceptor } from '../../src/index.js';
import type { AcceptedMessage } from '../../src/adapters/message.js';
import type { Action } from '../../src/smtp/handler.js';
import { SmtpServer } from '../../src/smtp/server.js';
import { fakeMxHandler } from '../../src/testing/fake-mx.js';
import { createFakeMx, type FakeMx } from '../../src/testing/index.js';
import { postfixTool, runPeer, systemBinary } from '../helpers/smtp-peers.js';

const SIZE = 65_536;
const MULTI: Action = { kind: 'reply', reply: { code: 550, extended: '5.7.1', lines: ['Policy rejection', 'see https://example.org/policy', 'last line'] } };
const messages: AcceptedMessage[] = [];
let server: SmtpServer;
let port: number;
let refusing: FakeMx; // greets with 554
let ic: Interceptor;

const python = () => systemBinary('/usr/bin/python3', 'python3');
const swaks = () => systemBinary('/usr/bin/swaks', 'swaks');
const smtplib = async (scenario: string, target = port) => {
  const { status, stdout, stderr } = await runPeer(python(), [resolve(import.meta.dirname, '../fixtures/smtplib-client.py'), scenario, String(target)]);
  assert.equal(status, 0, stderr);
  return JSON.parse(stdout) as Record<string, unknown>;
};
const settled = async (count: number) => {
  // The client has its reply, so the message is already stored: nothing to wait for but this turn.
  await new Promise((r) => setImmediate(r));
  assert.equal(messages.length, count);
};

describe('conformance with real SMTP clients', () => {
  before(async () => {
    ic = new Interceptor();
    await ic.add({ recipient: 'closing@example.org', code: 421, extended: '4.3.2', description: 'closing now' });
    const base = fakeMxHandler(ic, undefined, (m) => messages.push(m));
    server = new SmtpServer({ hostname: 'mx.test', size: SIZE, handler: { ...base, rcpt: (s, to) => (to.address === 'multi@example.org' ? MULTI : base.rcpt!(s, to)) } });
    port = (await server.listen(0, '127.0.0.1')).port;
    const refuser = new Interceptor();
    await refuser.add({ code: 554, extended: '5.7.1', description: 'no service here', phase: 'connect' });
    refusing = await createFakeMx({ interceptor: refuser });
  });
  after(() => Promise.all([server.close(), refusing.close()]));
  beforeEach(() => { messages.length = 0; });

  describe('nodemailer', () => {
    const raw = Buffer.from('From: a@example.com\r\nTo: bob@example.org\r\nSubject: nm\r\n\r\n.leading dot\r\n.\r\n..two\r\nCaf\u00e9 \u00fcber\r\n');
    it('delivers a dot-stuffed 8-bit message byte for byte, one connection per message', async () => {
      const t = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });
      const info = await t.sendMail({ envelope: { from: 'a@example.com', to: ['bob@example.org', 'carol@example.org'] }, raw });
      assert.equal(info.response, '250 2.0.0 Message accepted');
      await settled(1);
      assert.deepEqual(messages[0]!.raw, raw);
      assert.deepEqual(messages[0]!.envelope.rcptTo, ['bob@example.org', 'carol@example.org']);
    });

    it('sends an internationalised address with SMTPUTF8', async () => {
      const t = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });
      const info = await t.sendMail({ from: 'a@example.com', to: 'jos\u00e9@example.org', subject: 'utf8', text: 'hi' });
      assert.deepEqual(info.accepted, ['jos\u00e9@example.org']);
      await settled(1);
      assert.deepEqual(messages[0]!.envelope.rcptTo, ['jos\u00e9@example.org']);
    });

    it('delivers many messages over pooled connections', async () => {
      const t = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true, pool: true, maxConnections: 2 });
      const infos = await Promise.all(Array.from({ length: 20 }, (_, i) => t.sendMail({ from: 'a@example.com', to: `r${i}@example.org`, subject: `n${i}`, text: `.body ${i}` })));
      t.close();
      assert.ok(infos.every((info) => info.accepted.length === 1));
      await settled(20);
      assert.ok(new Set(messages.map((m) => m.session)).size <= 2, 'connections were reused');
      assert.ok(messages.every((m) => /\r\n\r\n\.body \d+/.test(m.raw.toString())));
    });

    it('gets 552 5.3.4 for a message over SIZE sent without SIZE=, and nothing is kept', async () => {
      const t = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });
      const err = await t.sendMail({ envelope: { from: 'a@example.com', to: ['bob@example.org'] }, raw: `Subject: big\r\n\r\n${'x'.repeat(SIZE)}\r\n` }).catch((e: Error & { response?: string; code?: string }) => e);
      assert.ok(err instanceof Error);
      assert.deepEqual([(err as { code?: string }).code, (err as { response?: string }).response], ['EMESSAGE', '552 5.3.4 Message size exceeds fixed maximum message size']);
      await settled(0);
    });
  });

  describe("Python's smtplib", () => {
    it('delivers with its own dot-stuffing and an 8-bit body', async () => {
      const out = await smtplib('deliver');
      assert.deepEqual(out['refused'], {});
      assert.match(String((out['ehlo'] as unknown[])[1]), /PIPELINING\n8BITMIME\nSMTPUTF8\nENHANCEDSTATUSCODES\nSIZE 65536$/);
      await settled(1);
      assert.equal(messages[0]!.raw.toString('utf8'), 'Subject: smtplib\r\nX-Campaign: py\r\n\r\n.leading dot\r\n.\r\nCaf\u00e9 \u00fcber\r\n');
    });

    it('is refused at MAIL by SIZE=', async () => {
      assert.deepEqual((await smtplib('size'))['refused'], [552, '5.3.4 Message size exceeds fixed maximum message size']);
      await settled(0);
    });

    it('reads bad sequences, unknown commands, a multi-line reply and a line over the limit', async () => {
      assert.deepEqual(await smtplib('replies'), {
        sequence: [
          [503, '5.5.1 Need MAIL before RCPT'], [503, '5.5.1 Need MAIL before RCPT'], [250, '2.1.0 Sender OK'], [503, '5.5.1 Nested MAIL command'],
          [502, '5.5.1 Command not implemented'], [500, '5.5.1 Command unrecognized'],
        ],
        multiline: [550, '5.7.1 Policy rejection\n5.7.1 see https://example.org/policy\n5.7.1 last line'],
        long: [500, '5.5.2 Line too long'],
        after: [250, '2.0.0 OK'],
      });
    });

    it('gets a 554 greeting, and a 421 that closes the connection', async () => {
      assert.deepEqual((await smtplib('greeting', refusing.port))['refused'], [554, '5.7.1 no service here']);
      assert.deepEqual(await smtplib('close421'), { rcpt: [421, '4.3.2 closing now'], disconnected: true });
    });

    it('closing mid-DATA stores nothing', async () => {
      const before = server.connections;
      assert.deepEqual((await smtplib('abort'))['data'], [354, 'End data with <CR><LF>.<CR><LF>']);
      while (server.connections > before) await new Promise((r) => setTimeout(r, 5));
      await settled(0);
    });
  });

  describe('swaks', () => {
    const args = (...more: string[]) => ['--server', '127.0.0.1', '--port', String(port), '--from', 's@example.com', '--helo', 'client.test', ...more];

    it('pipelines a transaction with a dot-stuffed body', async () => {
      const { status, stdout } = await runPeer(swaks(), args('--pipeline', '--to', 'bob@example.org,carol@example.org', '--header', 'Subject: swaks', '--body', 'first\n.dotted\n.\nlast'));
      assert.equal(status, 0, stdout);
      // Pipelined: MAIL, both RCPTs and DATA were sent before the first of their replies.
      assert.match(stdout, / -> MAIL FROM:<s@example.com>\n -> RCPT TO:<bob@example.org>\n -> RCPT TO:<carol@example.org>\n -> DATA\n<-  250 2.1.0 Sender OK/);
      await settled(1);
      assert.match(messages[0]!.raw.toString(), /\r\n\r\nfirst\r\n\.dotted\r\n\.\r\nlast\r\n/);
    });

    it('shows a multi-line reply and the 421 close', async () => {
      const multi = await runPeer(swaks(), args('--to', 'multi@example.org'));
      assert.match(multi.stdout, /<\*\* 550-5\.7\.1 Policy rejection\n<\*\* 550-5\.7\.1 see https:\/\/example\.org\/policy\n<\*\* 550 5\.7\.1 last line/);
      const closing = await runPeer(swaks(), args('--to', 'closing@example.org'));
      assert.match(closing.stdout, /<\*\* 421 4\.3\.2 closing now/);
      assert.notEqual(closing.status, 0);
    });

    it('after a 554 greeting, QUIT is answered', async () => {
      const { stdout } = await runPeer(swaks(), ['--server', '127.0.0.1', '--port', String(refusing.port), '--to', 'bob@example.org']);
      assert.match(stdout, /<\*\* 554 5\.7\.1 no service here\n -> QUIT\n<-  221 2\.0\.0 Bye/);
    });
  });

  describe("Postfix's smtp-source", () => {
    it('delivers messages over new and reused connections, 5 sessions at once', async () => {
      const source = postfixTool('smtp-source');
      const target = `127.0.0.1:${port}`;
      const once = await runPeer(source, ['-s', '5', '-m', '40', '-l', '3000', '-f', 'src@example.com', '-t', 'bob@example.org', target]);
      assert.equal(once.status, 0, once.stderr);
      const reused = await runPeer(source, ['-d', '-s', '5', '-m', '40', '-r', '3', '-f', 'src@example.com', '-t', 'bob@example.org', target]);
      assert.equal(reused.status, 0, reused.stderr);
      await settled(80);
      assert.ok(messages.slice(0, 40).every((m) => m.raw.length >= 3000), 'the -l bytes arrived');
      assert.ok(messages.slice(40).every((m) => m.envelope.rcptTo.length === 3));
    });
  });
});
