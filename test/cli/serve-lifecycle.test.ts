// `serve` start-up and shut-down: options validated before anything listens, failures close what was
// started, the rule directory, IPv6 start-up lines, and SIGTERM with a client that never closes.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { runCli, startCli, waitForLine } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'smtp-intercept-cli-life-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const token = 'lifecycle-token';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

async function refused(port: number): Promise<boolean> {
  return new Promise((r) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); r(false); });
    socket.once('error', () => r(true));
  });
}

describe('serve start-up', () => {
  it('refuses bad options with exit 1 and a message naming the flag, before anything listens', async () => {
    const smtpPort = await freePort();
    const base = ['serve', '--smtp-port', String(smtpPort), '--http-port', '0', '--rules', join(dir, 'bad.json')];
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['--token', 'a b'], {}, /^smtp-intercept: --token must not contain spaces or other whitespace\n$/],
      [['--token', '\t'], {}, /--token must not contain spaces/],
      [[], { SMTP_INTERCEPT_TOKEN: ' ' }, /SMTP_INTERCEPT_TOKEN must not contain spaces/],
      [['--max-messages', '0'], {}, /--max-messages must be a count from 1 to/],
      [['--max-stored-bytes', '12x'], {}, /--max-stored-bytes must be a number of bytes/],
      [['--request-timeout=-5'], {}, /--request-timeout must be milliseconds/],
      [['--max-connections', ''], {}, /--max-connections must be a count/],
      [['--host', 'not a host'], {}, /--host must be an IP address or a host name \(got "not a host"\)/],
      [['--http-port', '70000'], {}, /--http-port must be a port number from 0 to 65535/],
      [['--bogus'], {}, /Unknown option '--bogus'/],
    ];
    for (const [extra, env, message] of cases) {
      const { code, output } = await runCli([...base, ...extra], { SMTP_INTERCEPT_TOKEN: token, ...env });
      assert.equal(code, 1, `${extra.join(' ')}: ${output}`);
      assert.match(output, message);
      assert.ok(await refused(smtpPort), `${extra.join(' ')}: nothing listens on the SMTP port`);
    }
    assert.ok(!existsSync(join(dir, 'bad.json')), 'no rule file was written');
  });

  it('closes the SMTP listener and exits 1 when the HTTP port is busy', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const busy = (blocker.address() as { port: number }).port;
    const smtpPort = await freePort();
    try {
      const { code, output } = await runCli(['serve', '--smtp-port', String(smtpPort), '--http-port', String(busy), '--rules', join(dir, 'busy.json')], { SMTP_INTERCEPT_TOKEN: token });
      assert.equal(code, 1);
      assert.equal(output, `smtp-intercept: port ${busy} on 127.0.0.1 is already in use; choose another with --http-port (0 picks a free one)\n`);
      assert.ok(await refused(smtpPort));
    } finally {
      blocker.close();
    }
  });

  it('creates a missing rule directory, so writes succeed, and says why a later write fails', async () => {
    const rules = join(dir, 'missing', 'nested', 'r.json');
    const server = await startCli(['serve', '--smtp-port', '0', '--http-port', '0', '--rules', rules], { SMTP_INTERCEPT_TOKEN: token });
    const res = await fetch(`http://${server.http}/v1/errors`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"domain":"x.example","code":550}' });
    assert.equal(res.status, 201, await res.text());
    assert.ok(existsSync(rules));
    // A directory removed under a running server: the 503 is explained on stderr, naming the file.
    rmSync(join(dir, 'missing'), { recursive: true, force: true });
    const failed = await fetch(`http://${server.http}/v1/errors`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"domain":"y.example","code":550}' });
    assert.equal(failed.status, 503);
    await waitForLine(server, (line) => line.startsWith('smtp-intercept: ') && line.includes(rules) && line.includes('ENOENT'));
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0);
  });

  it('refuses to start, naming the path, when the rule directory cannot be created', async () => {
    const file = join(dir, 'plain-file');
    writeFileSync(file, '');
    const rules = join(file, 'r.json');
    const { code, output } = await runCli(['serve', '--smtp-port', '0', '--http-port', '0', '--rules', rules], { SMTP_INTERCEPT_TOKEN: token });
    assert.equal(code, 1);
    assert.match(output, new RegExp(`^smtp-intercept: cannot create the directory "${file}" of the rule file --rules "${rules}": EEXIST`));
  });

  it('prints IPv6 listeners in brackets, and clients connect with the printed lines', async () => {
    const server = await startCli(['serve', '--host', '::1', '--smtp-port', '0', '--http-port', '0', '--rules', join(dir, 'v6.json')], { SMTP_INTERCEPT_TOKEN: token });
    assert.match(server.output, /^smtp listening on \[::1\]:\d+\nhttp listening on \[::1\]:\d+\n/);
    const res = await fetch(`http://${server.http}/v1/errors`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    // An SMTP client takes a host and a port: the URL parser splits the printed authority.
    const smtp = new URL(`smtp://${server.smtp}`);
    const transport = nodemailer.createTransport({ host: smtp.hostname.replace(/^\[|\]$/g, ''), port: Number(smtp.port), secure: false, ignoreTLS: true });
    const info = await transport.sendMail({ from: 'a@example.com', to: 'b@example.org', text: 'v6' });
    assert.deepEqual(info.accepted, ['b@example.org']);
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0);
  });
});

describe('serve shut-down', () => {
  it('exits within ~1.5 s of SIGTERM while an SMTP client reads the 421 and never closes its side', async () => {
    const server = await startCli(['serve', '--smtp-port', '0', '--http-port', '0', '--rules', join(dir, 'term.json')], { SMTP_INTERCEPT_TOKEN: token });
    const socket: Socket = connect({ port: server.smtpPort, host: '127.0.0.1', allowHalfOpen: true });
    let received = '';
    socket.on('data', (c: Buffer) => { received += c.toString(); });
    socket.on('end', () => { /* the server's FIN: read it, keep our side open */ });
    socket.on('error', () => undefined);
    while (!/^220 /m.test(received)) await new Promise((r) => setTimeout(r, 10));
    socket.write('EHLO client.example\r\n');
    while (!/^250 /m.test(received)) await new Promise((r) => setTimeout(r, 10));
    const signalled = Date.now();
    server.child.kill('SIGTERM');
    const code = await server.exited;
    const took = Date.now() - signalled;
    socket.destroy();
    assert.equal(code, 0);
    assert.match(received, /^421 .*shutting down/m, 'the client was told');
    assert.ok(took < 2000, `exited ${took} ms after SIGTERM (the 421 goes out after a 1 s grace)`);
  });
});
