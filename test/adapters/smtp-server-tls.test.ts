// interceptServerOptions on a real smtp-server, with nodemailer: every attempt says whether its
// connection was TLS, from smtp-server's own session (STARTTLS, implicit TLS, in clear).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { afterEach, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { type AcceptedMessage, interceptServerOptions } from '../../src/adapters/smtp-server.js';
import { Interceptor } from '../../src/index.js';
import { record, TEST_CERTIFICATE, TEST_KEY } from '../../src/testing/index.js';

const mail = { from: 'app@example.com', to: 'bob@example.org', subject: 'hello', text: 'body' };
const trust = { ca: TEST_CERTIFICATE, servername: 'localhost' };
let servers: SMTPServer[] = [];

afterEach(async () => {
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  servers = [];
});

/** A user's smtp-server with the bundled certificate: STARTTLS offered, or (`secure`) TLS from the first byte. */
async function start(ic: Interceptor, options: SMTPServerOptions = {}): Promise<{ port: number; messages: AcceptedMessage[] }> {
  const messages: AcceptedMessage[] = [];
  const server = new SMTPServer({ authOptional: true, logger: false, key: TEST_KEY, cert: TEST_CERTIFICATE, ...options, ...interceptServerOptions(ic, { onMessage: (m) => messages.push(m) }) });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server.server, 'listening');
  return { port: (server.server.address() as { port: number }).port, messages };
}

/** `phase:tls` of every recorded attempt, in order. */
const seen = (recorder: ReturnType<typeof record>) => recorder.attempts.map((a) => `${String(a.attempt.phase)}:${String(a.attempt.tls)}`);

describe('interceptServerOptions: attempt.tls from smtp-server', () => {
  it('STARTTLS: the greeting in clear, every command after the handshake over TLS', async () => {
    const ic = new Interceptor();
    const { port, messages } = await start(ic);
    const recorder = record(ic);
    const info = await nodemailer.createTransport({ host: '127.0.0.1', port, requireTLS: true, tls: trust }).sendMail(mail);
    recorder.stop();
    assert.deepEqual(info.accepted, ['bob@example.org']);
    assert.deepEqual(seen(recorder), ['connect:false', 'mail:true', 'rcpt:true', 'data:true']);
    assert.equal(messages[0]?.tls, true);
  });

  it('in clear (ignoreTLS): every attempt says false', async () => {
    const ic = new Interceptor();
    const { port, messages } = await start(ic);
    const recorder = record(ic);
    await nodemailer.createTransport({ host: '127.0.0.1', port, ignoreTLS: true }).sendMail(mail);
    recorder.stop();
    assert.deepEqual(seen(recorder), ['connect:false', 'mail:false', 'rcpt:false', 'data:false']);
    assert.equal(messages[0]?.tls, false);
  });

  it('implicit TLS (secure: true): TLS from the greeting on', async () => {
    const ic = new Interceptor();
    const { port } = await start(ic, { secure: true });
    const recorder = record(ic);
    await nodemailer.createTransport({ host: '127.0.0.1', port, secure: true, tls: trust }).sendMail(mail);
    recorder.stop();
    assert.deepEqual(seen(recorder), ['connect:true', 'mail:true', 'rcpt:true', 'data:true']);
  });

  it('a rule forces its reply over TLS as in clear, and the forced attempt says tls', async () => {
    const ic = new Interceptor();
    const rule = await ic.add({ recipient: 'bob@example.org', code: 450, extended: '4.2.0', description: 'mailbox busy' });
    const { port } = await start(ic);
    const recorder = record(ic);
    const err = await nodemailer.createTransport({ host: '127.0.0.1', port, requireTLS: true, tls: trust }).sendMail(mail)
      .then(() => assert.fail('sent'), (e: Error & { responseCode?: number; response?: string }) => e);
    recorder.stop();
    assert.equal(err.responseCode, 450);
    assert.equal(err.response, '450 4.2.0 mailbox busy');
    assert.deepEqual(recorder.forced.map((a) => [a.ruleId, a.attempt.phase, a.attempt.tls]), [[rule.id, 'rcpt', true]]);
  });
});
