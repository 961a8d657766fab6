// The CLI as a child process, driven over REST (the client) and SMTP (nodemailer), restarted with its
// rules intact.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { ErrorsClient, ValidationError } from '../../src/client/index.js';
import { TEST_CERTIFICATE, TEST_KEY } from '../../src/testing/index.js';

const cli = resolve(import.meta.dirname, '../../src/cli/index.ts');
const dir = mkdtempSync(join(tmpdir(), 'smtp-intercept-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Running { child: ChildProcess; output: string; smtpPort: number; httpPort: number; exited: Promise<number | null> }

async function start(args: string[], env: Record<string, string> = {}): Promise<Running> {
  const child = spawn(process.execPath, ['--import', 'tsx', cli, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const running = { child, output: '', smtpPort: 0, httpPort: 0, exited: new Promise<number | null>((r) => child.once('exit', r)) } as Running;
  child.stdout!.on('data', (c: Buffer) => { running.output += c.toString(); });
  child.stderr!.on('data', (c: Buffer) => { running.output += c.toString(); });
  const deadline = Date.now() + 15_000;
  while (!/http listening on/.test(running.output) && child.exitCode === null) {
    if (Date.now() > deadline) throw new Error(`CLI did not start: ${running.output}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  running.smtpPort = Number(/smtp listening on [\d.]+:(\d+)/.exec(running.output)?.[1] ?? 0);
  running.httpPort = Number(/http listening on [\d.]+:(\d+)/.exec(running.output)?.[1] ?? 0);
  return running;
}

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
    const messages = await get('/v1/messages');
    assert.equal(messages.length, 1);
    assert.deepEqual(messages[0].headers.subject, ['second']);
    assert.equal((await fetch(`http://127.0.0.1:${server.httpPort}/v1/messages`)).status, 401);

    await client.add({ domain: 'kept.example', code: 550, cluster: true });
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0);
    assert.match(server.output, /SIGTERM: shutting down/);

    server = await start(args, { SMTP_INTERCEPT_TOKEN: token });
    client = new ErrorsClient({ baseUrl: `http://127.0.0.1:${server.httpPort}`, token });
    assert.deepEqual((await client.list()).map((r) => r.domain), ['kept.example'], 'the used-up rule is gone, the other kept');
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
      const child = spawn(process.execPath, ['--import', 'tsx', cli, 'serve', '--smtp-port', String(busy), '--http-port', '0', '--rules', join(dir, 'busy.json')], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
      const code = await new Promise((r) => child.once('exit', r));
      assert.equal(code, 1);
      assert.match(stderr, new RegExp(`port ${busy} on 127.0.0.1 is already in use; choose another with --smtp-port`));
    } finally {
      blocker.close();
    }
  });

  it('prints help', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', cli, '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    assert.equal(await new Promise((r) => child.once('exit', r)), 0);
    assert.match(out, /Usage: smtp-intercept serve/);
    assert.match(out, /--smtp-port/);
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
      const attempts = await (await fetch(`http://127.0.0.1:${server.httpPort}/v1/attempts`, { headers: { authorization: `Bearer ${token}` } })).json() as { fault?: string; outcome: string }[];
      assert.deepEqual(attempts.filter((a) => a.fault !== undefined).map((a) => [a.fault, a.outcome]), [['disconnect', 'deferred']]);
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
