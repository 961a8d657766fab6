// The CLI as a child process, driven over REST (the client) and SMTP (nodemailer), restarted with its
// rules intact.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { ErrorsClient, ValidationError } from '../../src/client/index.js';
import { SERVE_FLAGS } from '../../src/cli/options.js';
import { runCli, startCli } from '../helpers/cli.js';
import { TEST_CERTIFICATE, TEST_KEY } from '../../src/testing/index.js';

const dir = mkdtempSync(join(tmpdir(), 'smtp-intercept-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const start = startCli;

describe('smtp-intercept serve', () => {
  it('serves rules over REST and SMTP, records attempts and messages, and keeps rules across a restart', async () => {
    const rules = join(dir, 'rules.json');
    const token = 'cli-test-token';
    const args = ['serve', '--smtp-port', '0', '--http-port', '0', '--rules', rules];
    let server = await start(args, { SMTP_INTERCEPT_TOKEN: token });
    assert.ok(server.smtpPort > 0 && server.httpPort > 0, server.output);
    assert.doesNotMatch(server.output, /token /, 'a given token is not printed');
    let client = new ErrorsClient({ baseUrl: `http://127.0.0.1:${server.httpPort}`, token });
    await client.add({ domain: 'gmail.com', code: 421, extended: '4.7.0', description: 'busy', times: 1 });
    await assert.rejects(client.add({ pool: 'p', mta: '1.2.3.4', code: 550 }), ValidationError);

    const transport = () => nodemailer.createTransport({ host: '127.0.0.1', port: server.smtpPort, secure: false, ignoreTLS: true });
    const first = await transport().sendMail({ from: 'app@example.com', to: 'bob@gmail.com', text: 'x' }).catch((e: { response?: string }) => e.response);
    assert.equal(first, '421 4.7.0 busy');
    await transport().sendMail({ from: 'app@example.com', to: 'bob@gmail.com', subject: 'second', text: 'x' });

    const get = async (path: string) => (await fetch(`http://127.0.0.1:${server.httpPort}${path}`, { headers: { authorization: `Bearer ${token}` } })).json() as Promise<any>;
    const attempts = await get('/v1/attempts');
    assert.deepEqual(attempts.filter((a: any) => a.attempt.phase === 'rcpt').map((a: any) => a.outcome), ['deferred', 'passed']);
    const { messages } = await get('/v1/messages');
    assert.equal(messages.length, 1);
    assert.deepEqual(messages[0].headers.subject, ['second']);
    assert.equal((await fetch(`http://127.0.0.1:${server.httpPort}/v1/messages`)).status, 401);

    await client.add({ domain: 'kept.example', code: 550, cluster: true, times: 3 });
    await assert.rejects(transport().sendMail({ from: 'app@example.com', to: 'x@kept.example', text: 'x' }));
    assert.deepEqual((await client.list()).map((r) => [r.times, r.hits]), [[2, 1]]);
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0);
    assert.match(server.output, /SIGTERM: shutting down/);

    server = await start(args, { SMTP_INTERCEPT_TOKEN: token });
    client = new ErrorsClient({ baseUrl: `http://127.0.0.1:${server.httpPort}`, token });
    assert.deepEqual((await client.list()).map((r) => r.domain), ['kept.example'], 'the used-up rule is gone, the other kept');
    // As docs/cli.md says: times left and hits survive a graceful stop.
    assert.deepEqual((await client.list()).map((r) => [r.times, r.hits]), [[2, 1]]);
    server.child.kill('SIGINT');
    assert.equal(await server.exited, 0);
  });

  it('generates and prints a token when none is given', async () => {
    const server = await start(['serve', '--smtp-port', '0', '--http-port', '0', '--rules', join(dir, 'gen.json')], { SMTP_INTERCEPT_TOKEN: '' });
    const token = /token (\S+)/.exec(server.output)?.[1];
    assert.ok(token && token.length >= 24, server.output);
    const res = await fetch(`http://127.0.0.1:${server.httpPort}/v1/errors`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    server.child.kill('SIGTERM');
    await server.exited;
  });

  it('explains a busy port and exits 1', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const busy = (blocker.address() as { port: number }).port;
    try {
      const { code, output } = await runCli(['serve', '--smtp-port', String(busy), '--http-port', '0', '--rules', join(dir, 'busy.json')]);
      assert.equal(code, 1);
      assert.equal(output, `smtp-intercept: port ${busy} on 127.0.0.1 is already in use; choose another with --smtp-port (0 picks a free one)\n`);
    } finally {
      blocker.close();
    }
  });

  it('plays the --hostname MX over SMTP: mx and sender rules, greylisting and rate limits with their default replies', async () => {
    const token = 'cli-deferrals-token';
    const server = await start(['serve', '--smtp-port', '0', '--http-port', '0', '--rules', join(dir, 'deferrals.json'), '--hostname', 'alt1.aspmx.l.google.com'], { SMTP_INTERCEPT_TOKEN: token });
    const client = new ErrorsClient({ baseUrl: `http://127.0.0.1:${server.httpPort}`, token });
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: server.smtpPort, secure: false, ignoreTLS: true });
    const send = (to: string, from: string | { envelope: string } = 'app@example.com') => transport.sendMail(typeof from === 'string'
      ? { from, to, text: 'x' } : { from: 'mailer-daemon@example.com', envelope: { from: from.envelope, to }, to, text: 'x' })
      .then(() => 'sent', (e: { response?: string }) => e.response);
    try {
      const google = await client.add({ mx: '*.google.com', code: 451, description: 'google busy' });
      assert.equal(google.mx, '*.google.com');
      assert.equal(await send('bob@corp.example'), '451 4.0.0 google busy');
      await client.remove({ mx: '*.google.com' });
      await client.add({ sender: '<>', code: 550 });
      assert.equal(await send('bob@corp.example', { envelope: '' }), '550 5.0.0 forced failure');
      // No clock to inject in a child process: a zero delay makes the retry pass at once.
      const grey = await client.add({ recipient: 'grey@corp.example', greylist: { delay: 0 } });
      assert.deepEqual([grey.code, grey.greylist], [451, { delay: 0, window: 172800, lifetime: 3024000 }]);
      assert.equal(await send('grey@corp.example'), '451 4.7.1 Greylisted, please try again later');
      assert.equal(await send('grey@corp.example'), 'sent');
      await client.add({ recipient: 'rate@corp.example', rate: { limit: 2, window: 3600 } });
      assert.deepEqual([await send('rate@corp.example'), await send('rate@corp.example'), await send('rate@corp.example')],
        ['sent', 'sent', '421 4.7.0 Too many messages, slow down']);
      const attempts = await (await fetch(`http://127.0.0.1:${server.httpPort}/v1/attempts`, { headers: { authorization: `Bearer ${token}` } })).json() as { attempt: { sender?: string; mx?: string; phase?: string } }[];
      const rcpt = attempts.filter((a) => a.attempt.phase === 'rcpt');
      assert.deepEqual([rcpt[0]?.attempt.sender, rcpt[0]?.attempt.mx, rcpt[1]?.attempt.sender], ['app@example.com', 'alt1.aspmx.l.google.com', '<>']);
    } finally {
      transport.close();
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });

  it('prints help', async () => {
    const { code, output } = await runCli(['--help']);
    assert.equal(code, 0);
    assert.match(output, /Usage: smtp-intercept serve/);
    // Every flag the parser accepts is in --help and in the option table of docs/cli.md.
    const page = readFileSync(join(import.meta.dirname, '../../docs/cli.md'), 'utf8');
    for (const flag of Object.keys(SERVE_FLAGS)) {
      assert.match(output, new RegExp(`^  --${flag}\\b`, 'm'), `--help lists --${flag}`);
      assert.match(page, new RegExp(`^\\| [^|]*\`--${flag}\``, 'm'), `docs/cli.md lists --${flag}`);
    }
  });

  it('STARTTLS with --tls-key/--tls-cert, and a fault rule over REST played on the wire', async () => {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    writeFileSync(key, TEST_KEY);
    writeFileSync(cert, TEST_CERTIFICATE);
    const token = 'cli-tls-token';
    const server = await start(['serve', '--smtp-port', '0', '--http-port', '0', '--rules', join(dir, 'tls-rules.json'), '--tls-key', key, '--tls-cert', cert], { SMTP_INTERCEPT_TOKEN: token });
    try {
      const client = new ErrorsClient({ baseUrl: `http://127.0.0.1:${server.httpPort}`, token });
      await client.add({ domain: 'example.org', fault: 'disconnect', phase: 'data', times: 1 });
      const transport = nodemailer.createTransport({ host: '127.0.0.1', port: server.smtpPort, requireTLS: true, tls: { ca: TEST_CERTIFICATE, servername: 'localhost' } });
      const mail = { from: 'a@example.com', to: 'bob@example.org', subject: 's', text: 't' };
      const err = await transport.sendMail(mail).then(() => assert.fail('sent'), (e: Error & { code?: string }) => e);
      assert.equal(err.code, 'ECONNECTION');
      assert.deepEqual((await transport.sendMail(mail)).accepted, ['bob@example.org']);
      await nodemailer.createTransport({ host: '127.0.0.1', port: server.smtpPort, ignoreTLS: true }).sendMail(mail);
      type Entry = { fault: string | null; outcome: string; attempt: { phase: string; tls: boolean | null } };
      const attempts = await (await fetch(`http://127.0.0.1:${server.httpPort}/v1/attempts`, { headers: { authorization: `Bearer ${token}` } })).json() as Entry[];
      assert.deepEqual(attempts.filter((a) => a.fault !== null).map((a) => [a.fault, a.outcome]), [['disconnect', 'deferred']]);
      // Per connection: the greeting is always in clear; the rest over TLS after STARTTLS, else in clear.
      const phases = (a: Entry) => `${a.attempt.phase}:${String(a.attempt.tls)}`;
      const tls = ['connect:false', 'mail:true', 'rcpt:true', 'data:true'];
      assert.deepEqual(attempts.map(phases), [...tls, ...tls, 'connect:false', 'mail:false', 'rcpt:false', 'data:false']);
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });

  it('--tls-key without --tls-cert is refused', async () => {
    const server = await start(['serve', '--smtp-port', '0', '--http-port', '0', '--tls-key', join(dir, 'key.pem')]);
    assert.equal(await server.exited, 1);
    assert.match(server.output, /--tls-key and --tls-cert go together/);
  });
});
