// The SMTP engine through its own API, with exact wire assertions from a bare TCP client.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import type { SmtpHandler } from '../../src/smtp/handler.js';
import { formatReply, ReplyError } from '../../src/smtp/reply.js';
import { SmtpServer, type SmtpServerOptions } from '../../src/smtp/server.js';
import { rawClient, type RawClient } from '../helpers/raw-smtp.js';

let servers: SmtpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

interface Started { server: SmtpServer; port: number; messages: Buffer[]; errors: unknown[]; closes: number }

async function start(handler: SmtpHandler = {}, options: Partial<SmtpServerOptions> = {}): Promise<Started> {
  const messages: Buffer[] = [];
  const errors: unknown[] = [];
  const chunks = new Map<string, Buffer[]>();
  const out: Started = { server: undefined as unknown as SmtpServer, port: 0, messages, errors, closes: 0 };
  const server = new SmtpServer({
    hostname: 'mx.test',
    onError: (err) => errors.push(err),
    ...options,
    handler: {
      data: (s) => { chunks.set(s.id, []); return handler.data?.(s); },
      chunk: (s, c) => { chunks.get(s.id)!.push(Buffer.from(c)); return handler.chunk?.(s, c); },
      message: (s, size) => { const body = Buffer.concat(chunks.get(s.id)!); assert.equal(body.length, size); messages.push(body); return handler.message?.(s, size); },
      close: () => { out.closes++; },
      ...(handler.connect ? { connect: handler.connect } : {}),
      ...(handler.mail ? { mail: handler.mail } : {}),
      ...(handler.rcpt ? { rcpt: handler.rcpt } : {}),
    },
  });
  servers.push(server);
  out.server = server;
  out.port = (await server.listen(0, '127.0.0.1')).port;
  return out;
}

async function talk(client: RawClient, lines: string[]): Promise<string[]> {
  const replies: string[] = [];
  for (const line of lines) {
    client.send(`${line}\r\n`);
    replies.push(await client.reply());
  }
  return replies;
}

describe('SMTP engine', () => {
  it('greets without delay and announces its extensions after EHLO', async () => {
    const { port } = await start({}, { size: 1000 });
    const c = await rawClient(port);
    const started = performance.now();
    assert.equal(await c.reply(), '220 mx.test ESMTP\r\n');
    assert.ok(performance.now() - started < 50, 'no greeting delay');
    assert.deepEqual(await talk(c, ['EHLO client.test', 'HELO client.test']), [
      '250-mx.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n250 SIZE 1000\r\n',
      '250 mx.test\r\n',
    ]);
  });

  it('answers a pipelined transaction in order and unstuffs dots', async () => {
    const { port, messages } = await start();
    const c = await rawClient(port);
    await c.reply();
    c.send('EHLO c\r\nMAIL FROM:<a@x.test> BODY=8BITMIME SIZE=50\r\nRCPT TO:<b@y.test>\r\nRCPT TO:<c@y.test>\r\nDATA\r\n');
    const replies = [await c.reply(), await c.reply(), await c.reply(), await c.reply(), await c.reply()];
    assert.deepEqual(replies.slice(1), ['250 2.1.0 Sender OK\r\n', '250 2.1.5 Recipient OK\r\n', '250 2.1.5 Recipient OK\r\n', '354 End data with <CR><LF>.<CR><LF>\r\n']);
    // A dot-stuffed line, a lone dot after a bare LF (not an end: only CRLF.CRLF is), 8-bit bytes.
    c.send(Buffer.concat([Buffer.from('Subject: x\r\n\r\n..leading dot\r\nbare\n.\nstill body '), Buffer.from([0xc3, 0xa9]), Buffer.from('\r\n.\r\nQUIT\r\n')]));
    assert.equal(await c.reply(), '250 2.0.0 Message accepted\r\n');
    assert.equal(await c.reply(), '221 2.0.0 Bye\r\n');
    await c.closed();
    assert.deepEqual(messages.map((m) => m.toString('utf8')), ['Subject: x\r\n\r\n.leading dot\r\nbare\n.\nstill body é\r\n']);
  });

  it('finds the end of data split across any packet boundary', async () => {
    const { port, messages } = await start();
    const body = 'a\r\n..b\r\n.\r\n';
    for (let cut = 1; cut < body.length; cut++) {
      const c = await rawClient(port);
      await c.reply();
      await talk(c, ['HELO c', 'MAIL FROM:<>', 'RCPT TO:<b@y.test>', 'DATA']);
      c.send(body.slice(0, cut));
      await new Promise((resolve) => setTimeout(resolve, 2));
      c.send(body.slice(cut));
      assert.equal(await c.reply(), '250 2.0.0 Message accepted\r\n', `cut at ${cut}`);
      c.socket.destroy();
    }
    assert.ok(messages.every((m) => m.toString() === 'a\r\n.b\r\n'));
  });

  it('gives the handler\'s exact replies: a 2xx text, a multi-line reply, a delay', async () => {
    const { port } = await start({
      mail: () => ({ kind: 'reply', reply: { code: 250, extended: '2.1.0', lines: ['sender fine'] } }),
      rcpt: (_s, to) => to.address.startsWith('multi')
        ? { kind: 'reply', reply: { code: 550, extended: '5.7.1', lines: ['first line', 'second line', 'last'] } }
        : { kind: 'reply', delay: 200 },
    });
    const c = await rawClient(port);
    await c.reply();
    const replies = await talk(c, ['EHLO c', 'MAIL FROM:<a@x.test>', 'RCPT TO:<multi@y.test>']);
    assert.equal(replies[1], '250 2.1.0 sender fine\r\n');
    assert.equal(replies[2], '550-5.7.1 first line\r\n550-5.7.1 second line\r\n550 5.7.1 last\r\n');
    const started = performance.now();
    assert.deepEqual(await talk(c, ['RCPT TO:<slow@y.test>']), ['250 2.1.5 Recipient OK\r\n']);
    assert.ok(performance.now() - started >= 190);
  });

  it('refuses SIZE= over the limit and an oversized message without SIZE=, storing nothing', async () => {
    const { port, messages } = await start({}, { size: 100 });
    const c = await rawClient(port);
    await c.reply();
    assert.deepEqual(await talk(c, ['EHLO c', 'MAIL FROM:<a@x.test> SIZE=101', 'MAIL FROM:<a@x.test> SIZE=100', 'RCPT TO:<b@y.test>', 'DATA']).then((r) => r.slice(1)), [
      '552 5.3.4 Message size exceeds fixed maximum message size\r\n', '250 2.1.0 Sender OK\r\n', '250 2.1.5 Recipient OK\r\n', '354 End data with <CR><LF>.<CR><LF>\r\n',
    ]);
    c.send(`${'x'.repeat(98)}\r\n${'y'.repeat(5000)}\r\n.\r\n`);
    assert.equal(await c.reply(), '552 5.3.4 Message size exceeds fixed maximum message size\r\n');
    assert.equal(messages.length, 0);
    // The transaction is over: a new one starts clean.
    assert.deepEqual(await talk(c, ['RCPT TO:<b@y.test>', 'MAIL FROM:<a@x.test>']), ['503 5.5.1 Need MAIL before RCPT\r\n', '250 2.1.0 Sender OK\r\n']);
  });

  it('answers command lines over the limit with 500 and keeps the session', async () => {
    const { port } = await start();
    const c = await rawClient(port);
    await c.reply();
    c.send(`NOOP ${'a'.repeat(100_000)}\r\n`);
    assert.equal(await c.reply(), '500 5.5.2 Line too long\r\n');
    assert.deepEqual(await talk(c, [`NOOP ${'a'.repeat(553)}`, `NOOP ${'a'.repeat(554)}`]), ['250 2.0.0 OK\r\n', '500 5.5.2 Line too long\r\n']);
  });

  it('answers commands out of sequence, unknown and malformed with the RFC codes', async () => {
    const { port } = await start({}, { maxRecipients: 2 });
    const c = await rawClient(port);
    await c.reply();
    const replies = await talk(c, [
      'MAIL FROM:<a@x.test>', 'RCPT TO:<b@y.test>', 'DATA', 'EHLO', 'EHLO c', 'RCPT TO:<b@y.test>', 'DATA',
      'MAIL FROM:a@x.test', 'MAIL FROM:<a@x.test> FOO=1', 'MAIL FROM:<a@x.test> SIZE=x', 'MAIL FROM:<a@x.test> BODY=9BIT', 'MAIL FROM:<é@x.test>',
      'MAIL FROM:<a@x.test>', 'MAIL FROM:<a@x.test>', 'DATA', 'RCPT TO:<b@y.test> NOTIFY=NEVER', 'RCPT TO:<ü@y.test>', 'RCPT TO:<>',
      'RCPT TO:<1@y.test>', 'RCPT TO:<2@y.test>', 'RCPT TO:<3@y.test>', 'DATA x', 'RSET', 'DATA',
      'VRFY', 'VRFY bob', 'HELP', 'NOOP anything', 'EXPN list', 'STARTTLS', 'XYZZY', '',
      'MAIL FROM:<é@x.test> SMTPUTF8', 'RCPT TO:<ü@y.test>',
    ]);
    assert.deepEqual(replies.map((r) => r.trimEnd()), [
      '503 5.5.1 Send EHLO or HELO first', '503 5.5.1 Need MAIL before RCPT', '503 5.5.1 Need MAIL before RCPT', '501 5.5.4 EHLO and HELO need a domain',
      replies[4]!.trimEnd(), '503 5.5.1 Need MAIL before RCPT', '503 5.5.1 Need MAIL before RCPT',
      '501 5.5.2 Syntax: MAIL FROM:<address> / RCPT TO:<address>', '555 5.5.4 Parameter not recognized or not implemented', '501 5.5.4 Invalid parameter value',
      '501 5.5.4 Invalid parameter value', '553 5.6.7 Non-ASCII address requires SMTPUTF8',
      '250 2.1.0 Sender OK', '503 5.5.1 Nested MAIL command', '503 5.5.1 Need RCPT before DATA', '555 5.5.4 Parameter not recognized or not implemented',
      '553 5.6.7 Non-ASCII address requires SMTPUTF8', '501 5.5.2 Syntax: MAIL FROM:<address> / RCPT TO:<address>',
      '250 2.1.5 Recipient OK', '250 2.1.5 Recipient OK', '452 4.5.3 Too many recipients', '501 5.5.4 No arguments allowed', '250 2.0.0 Reset', '503 5.5.1 Need MAIL before RCPT',
      '501 5.5.4 Argument required', '252 2.1.5 Cannot VRFY user, but will accept message and attempt delivery',
      '214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP', '250 2.0.0 OK', '502 5.5.1 Command not implemented',
      '502 5.5.1 Command not implemented', '500 5.5.1 Command unrecognized', '500 5.5.1 Command unrecognized',
      '250 2.1.0 Sender OK', '250 2.1.5 Recipient OK',
    ]);
  });

  it('after a 554 greeting answers 503 5.5.1 to everything until QUIT', async () => {
    const { port } = await start({ connect: () => ({ kind: 'reply', reply: { code: 554, extended: '5.7.1', lines: ['go away'] } }) });
    const c = await rawClient(port);
    assert.equal(await c.reply(), '554 5.7.1 go away\r\n');
    assert.deepEqual(await talk(c, ['EHLO c', 'MAIL FROM:<a@x.test>', 'NOOP', 'QUIT']), [
      '503 5.5.1 Bad sequence of commands\r\n', '503 5.5.1 Bad sequence of commands\r\n', '503 5.5.1 Bad sequence of commands\r\n', '221 2.0.0 Bye\r\n',
    ]);
    assert.equal(await c.closed(), '');
  });

  it('closes after a 421 at any step', async () => {
    const greeting = await start({ connect: () => ({ kind: 'reply', reply: { code: 421, extended: '4.3.2', lines: ['not now'] } }) });
    const c1 = await rawClient(greeting.port);
    assert.equal(await c1.closed(), '421 4.3.2 not now\r\n');
    const rcpt = await start({ rcpt: () => ({ kind: 'reply', reply: { code: 421, extended: '4.7.0', lines: ['busy'] } }) });
    const c2 = await rawClient(rcpt.port);
    await c2.reply();
    c2.send('HELO c\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nRCPT TO:<c@y.test>\r\n');
    assert.equal(await c2.closed(), '250 mx.test\r\n250 2.1.0 Sender OK\r\n421 4.7.0 busy\r\n');
  });

  it('abandons a message whose connection drops mid-DATA', async () => {
    const s = await start();
    const c = await rawClient(s.port);
    await c.reply();
    await talk(c, ['HELO c', 'MAIL FROM:<a@x.test>', 'RCPT TO:<b@y.test>', 'DATA']);
    c.send('Subject: cut\r\n\r\nhalf a messa');
    await new Promise((resolve) => setTimeout(resolve, 20));
    c.socket.destroy();
    while (s.closes === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(s.messages.length, 0);
  });

  it('holds the connection while an asynchronous sink takes the message', async () => {
    let waiting = 0;
    const s = await start({ chunk: () => { waiting++; return new Promise((resolve) => setTimeout(resolve, 5)); } });
    const c = await rawClient(s.port);
    await c.reply();
    await talk(c, ['HELO c', 'MAIL FROM:<a@x.test>', 'RCPT TO:<b@y.test>', 'DATA']);
    const body = Array.from({ length: 2000 }, (_, i) => `line ${i} ${'z'.repeat(200)}\r\n`).join('');
    c.send(`${body}.\r\nNOOP\r\n`);
    assert.equal(await c.reply(), '250 2.0.0 Message accepted\r\n');
    assert.equal(await c.reply(), '250 2.0.0 OK\r\n');
    assert.ok(waiting > 1);
    assert.equal(s.messages[0]!.toString(), body);
  });

  it('answers 451 4.3.0 and reports when a handler throws or gives a reply that cannot go on the wire', async () => {
    const s = await start({
      mail: () => { throw new Error('boom'); },
      rcpt: () => ({ kind: 'reply', reply: { code: 250, lines: ['caf\u00e9'] } }),
    });
    const c = await rawClient(s.port);
    await c.reply();
    const replies = await talk(c, ['HELO c', 'MAIL FROM:<a@x.test>']);
    assert.equal(replies[1], '451 4.3.0 Requested action aborted: local error in processing\r\n');
    assert.equal((s.errors[0] as Error).message, 'boom');
  });

  it('delays the greeting only when the handler asks, and times out a silent client with 421 4.4.2', async () => {
    const { port } = await start({ connect: () => ({ kind: 'reply', delay: 150 }) }, { idleTimeout: 300 });
    const c = await rawClient(port);
    const started = performance.now();
    assert.equal(await c.reply(), '220 mx.test ESMTP\r\n');
    assert.ok(performance.now() - started >= 140);
    assert.equal(await c.closed(), '421 4.4.2 Idle timeout, closing connection\r\n');
  });

  it('does not count its own reply delay as the client being idle', async () => {
    const { port } = await start({ mail: () => ({ kind: 'reply', delay: 400 }) }, { idleTimeout: 200 });
    const c = await rawClient(port);
    await c.reply();
    assert.deepEqual(await talk(c, ['HELO c', 'MAIL FROM:<a@x.test>']), ['250 mx.test\r\n', '250 2.1.0 Sender OK\r\n']);
    assert.equal(await c.closed(), '421 4.4.2 Idle timeout, closing connection\r\n');
  });

  it('answers a connection over maxConnections with 421 4.3.2 and closes it', async () => {
    const { port } = await start({}, { maxConnections: 1 });
    const first = await rawClient(port);
    await first.reply();
    const second = await rawClient(port);
    assert.equal(await second.closed(), '421 4.3.2 Too many connections, try again later\r\n');
    assert.deepEqual(await talk(first, ['NOOP']), ['250 2.0.0 OK\r\n']);
  });

  it('treats command words that name Object members as unknown commands', async () => {
    const { port } = await start();
    const c = await rawClient(port);
    await c.reply();
    assert.deepEqual(await talk(c, ['__proto__', 'constructor x', 'toString', 'hasOwnProperty']), Array(4).fill('500 5.5.1 Command unrecognized\r\n'));
  });

  it('says 421 to idle sessions on close and drops lingering ones within the grace', async () => {
    const s = await start({ rcpt: () => ({ kind: 'reply', delay: 60_000 }) }, { closeGrace: 300 });
    const idle = await rawClient(s.port);
    await idle.reply();
    const busy = await rawClient(s.port);
    await busy.reply();
    busy.send('HELO c\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\n');
    await busy.reply();
    await busy.reply();
    const started = performance.now();
    await s.server.close();
    assert.ok(performance.now() - started < 1000);
    assert.equal(await idle.closed(), '421 4.3.2 Service shutting down, closing connection\r\n');
    assert.equal(await busy.closed(), '');
  });
});

describe('formatReply', () => {
  it('writes multi-line replies with the enhanced code on every line and no trailing space', () => {
    assert.equal(formatReply({ code: 250, extended: '2.0.0', lines: ['a', 'b'] }), '250-2.0.0 a\r\n250 2.0.0 b\r\n');
    assert.equal(formatReply({ code: 250, lines: [''] }), '250\r\n');
    assert.equal(formatReply({ code: 421, extended: '4.0.0', lines: [] }), '421 4.0.0\r\n');
  });

  it('refuses what RFC 5321 does not allow, naming the part', () => {
    const refused = (reply: Parameters<typeof formatReply>[0], param: string) => assert.throws(() => formatReply(reply), (err: unknown) => err instanceof ReplyError && err.param === param && err.code === 'invalid_reply');
    refused({ code: 199, lines: ['x'] }, 'code');
    refused({ code: 250, extended: '5.0.0', lines: ['x'] }, 'extended');
    refused({ code: 250, lines: ['ok', 'x\r\n250 forged'] }, 'lines[1]');
    refused({ code: 250, lines: ['caf\u00e9'] }, 'lines[0]');
    assert.equal(formatReply({ code: 250, extended: '2.0.0', lines: ['x'.repeat(500)] }).length, 512);
    refused({ code: 250, extended: '2.0.0', lines: ['x'.repeat(501)] }, 'lines[0]');
  });
});

describe('src/smtp', () => {
  it('stands apart from the rule engine: it imports node built-ins, itself and the base error class only', () => {
    const dir = join(import.meta.dirname, '../../src/smtp');
    for (const file of readdirSync(dir)) {
      for (const [, from] of readFileSync(join(dir, file), 'utf8').matchAll(/from '([^']+)'/g)) {
        assert.ok(from!.startsWith('node:') || from!.startsWith('./') || from === '../errors.js', `${file} imports ${from}`);
      }
    }
  });
});
