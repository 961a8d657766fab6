// `serve`'s /v1/attempts and /v1/messages over a real CLI child: shapes, pagination, raw bytes,
// budgets, request ids; and the HTTP bounds against trickling and piling clients.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { type Cli, startCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'smtp-intercept-cli-records-'));
const token = 'records-token';
let server: Cli;
before(async () => {
  server = await startCli(['serve', '--smtp-port', '0', '--http-port', '0', '--rules', join(dir, 'r.json'), '--max-messages', '5', '--request-timeout', '1000', '--max-connections', '30'], { SMTP_INTERCEPT_TOKEN: token });
});
after(async () => {
  server.child.kill('SIGTERM');
  await server.exited;
  rmSync(dir, { recursive: true, force: true });
});

const get = (path: string, headers: Record<string, string> = {}) => fetch(`http://${server.http}${path}`, { headers: { authorization: `Bearer ${token}`, ...headers } });
const json = async (path: string) => { const res = await get(path); assert.equal(res.status, 200, path); return res.json() as Promise<any>; };
const sendAll = async (subjects: string[]) => {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: server.smtpPort, secure: false, ignoreTLS: true, pool: true, maxConnections: 1 });
  try {
    for (const subject of subjects) await transport.sendMail({ from: 'app@example.com', to: 'bob@example.org', subject, text: `body of ${subject}\n.dot\n` });
  } finally {
    transport.close();
  }
};

describe('GET /v1/messages', () => {
  it('pages envelopes and headers with a cursor, keeps the newest --max-messages, serves raw bytes', async () => {
    await sendAll(['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7']);
    const first = await json('/v1/messages?limit=2');
    assert.deepEqual(first.messages.map((m: any) => m.headers.subject[0]), ['m3', 'm4'], 'm1 and m2 were evicted');
    assert.deepEqual(Object.keys(first.messages[0]).sort(), ['envelope', 'headers', 'id', 'receivedAt', 'session', 'size']);
    assert.deepEqual(first.messages[0].envelope, { mailFrom: 'app@example.com', rcptTo: ['bob@example.org'] });
    const second = await json(`/v1/messages?limit=2&after=${first.next}`);
    const third = await json(`/v1/messages?after=${second.next}`);
    assert.deepEqual([...second.messages, ...third.messages].map((m: any) => m.headers.subject[0]), ['m5', 'm6', 'm7']);
    assert.equal(third.next, null);

    const last = third.messages.at(-1);
    assert.deepEqual(await json(`/v1/messages/${last.id}`), last);
    const raw = await get(`/v1/messages/${last.id}/raw`);
    assert.equal(raw.headers.get('content-type'), 'message/rfc822');
    const bytes = Buffer.from(await raw.arrayBuffer());
    assert.equal(bytes.length, last.size);
    assert.match(bytes.toString(), /Subject: m7\r\n[\s\S]*\r\n\r\nbody of m7\r\n\.dot\r\n$/, 'the message as received, dot-unstuffed');
  });

  it('answers unknown ids 404 and bad parameters 400 naming them', async () => {
    for (const path of ['/v1/messages/1', '/v1/messages/999/raw', '/v1/messages/abc', '/v1/messages/%E0%A4%A/raw']) {
      const res = await get(path);
      assert.equal(res.status, 404, path);
      assert.equal(((await res.json()) as any).error.type, 'not_found_error');
    }
    for (const [query, param] of [['limit=0', 'limit'], ['limit=1001', 'limit'], ['limit=x', 'limit'], ['after=-1', 'after'], ['after=1e3', 'after'], ['after=007', 'after']]) {
      const res = await get(`/v1/messages?${query}`);
      assert.equal(res.status, 400, query);
      assert.equal(((await res.json()) as any).error.param, param);
    }
    assert.equal((await fetch(`http://${server.http}/v1/messages/1/raw`)).status, 401);
    const post = await fetch(`http://${server.http}/v1/messages`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  });
});

describe('GET /v1/messages page size', () => {
  it('ends a page at about 1 MiB of JSON, with a cursor to the rest', async () => {
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: server.smtpPort, secure: false, ignoreTLS: true });
    const big = Array.from({ length: 3000 }, (_, i) => `${i}:${'h'.repeat(95)}`); // about 300 KB of header lines
    for (let i = 0; i < 5; i++) await transport.sendMail({ from: 'app@example.com', to: 'bob@example.org', subject: `big${i}`, text: 'x', headers: { 'X-Big': big } });
    const first = await json('/v1/messages?limit=5');
    assert.equal(first.messages.length, 4, 'four entries pass 1 MiB');
    assert.equal(first.next, first.messages[3].id);
    const rest = await json(`/v1/messages?limit=5&after=${first.next}`);
    assert.deepEqual(rest.messages.map((m: any) => m.headers.subject[0]), ['big4']);
    assert.equal(rest.next, null);
  });
});

describe('GET /v1/attempts', () => {
  it('gives every key of every entry, null where the attempt lacked it or nothing was forced', async () => {
    const rule = await (await fetch(`http://${server.http}/v1/errors`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"recipient":"forced@example.org","code":550}' })).json() as { id: string };
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: server.smtpPort, secure: false, ignoreTLS: true });
    await assert.rejects(transport.sendMail({ from: 'app@example.com', to: 'forced@example.org', text: 'x' }));
    const attempts = await json('/v1/attempts');
    const keys = ['at', 'attempt', 'fault', 'forced', 'outcome', 'reply', 'rule'];
    for (const entry of attempts) {
      assert.deepEqual(Object.keys(entry).sort(), keys);
      assert.deepEqual(Object.keys(entry.attempt).sort(), ['domain', 'ip', 'mta', 'mx', 'phase', 'pool', 'recipient', 'sender', 'tags', 'tls']);
    }
    const connect = attempts.findLast((a: any) => a.attempt.phase === 'connect');
    assert.deepEqual({ ...connect, at: undefined, attempt: { ...connect.attempt, mta: undefined, ip: undefined } }, {
      at: undefined, attempt: { pool: null, mta: undefined, domain: null, ip: undefined, recipient: null, sender: null, mx: null, tags: [], phase: 'connect', tls: false },
      forced: false, rule: null, reply: null, fault: null, outcome: 'passed',
    });
    const forced = attempts.findLast((a: any) => a.attempt.phase === 'rcpt');
    assert.deepEqual([forced.forced, forced.rule, forced.reply, forced.outcome, forced.attempt.recipient], [true, rule.id, '550 5.0.0 forced failure', 'failed', 'forced@example.org']);
  });
});

describe('request ids', () => {
  it('echo a client X-Request-Id or make a UUID on every endpoint, errors included', async () => {
    for (const path of ['/v1/errors', '/v1/attempts', '/v1/messages', '/v1/messages/424242']) {
      assert.equal((await get(path, { 'x-request-id': 'client-id.1' })).headers.get('x-request-id'), 'client-id.1', path);
      assert.match((await get(path, { 'x-request-id': 'bad id!' })).headers.get('x-request-id') ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, path);
    }
    const res = await fetch(`http://${server.http}/v1/attempts`, { headers: { 'x-request-id': 'unauthenticated-1' } });
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as any).error.request_id, 'unauthenticated-1');
  });
});

describe('HTTP bounds', () => {
  it('closes 20 sockets sending a body a byte at a time once --request-timeout passes', async () => {
    const sockets: Socket[] = [];
    const closed: Promise<number>[] = [];
    const answers: string[] = [];
    const opened = Date.now();
    const timers: NodeJS.Timeout[] = [];
    for (let i = 0; i < 20; i++) {
      const socket = connect(server.httpPort, '127.0.0.1');
      socket.on('error', () => undefined);
      answers[i] = '';
      socket.on('data', (c: Buffer) => { answers[i] += c.toString(); });
      sockets.push(socket);
      closed.push(new Promise((r) => socket.once('close', () => r(Date.now() - opened))));
      socket.write(`POST /v1/errors HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n`);
      timers.push(setInterval(() => { if (!socket.destroyed) socket.write('{'); }, 100));
    }
    const times = await Promise.all(closed);
    for (const t of timers) clearInterval(t);
    assert.ok(Math.max(...times) < 4000, `all closed within ${Math.max(...times)} ms (request timeout 1000 ms, checked every second)`);
    for (const answer of answers) assert.match(answer, /^HTTP\/1\.1 408 /);
  });

  it('refuses connections over --max-connections and keeps serving the others', async () => {
    // Keep-alive connections of earlier requests may count too, so the assertion is on the cap.
    const sockets: Socket[] = [];
    try {
      for (let i = 0; i < 40; i++) {
        const socket = connect(server.httpPort, '127.0.0.1');
        socket.on('error', () => undefined);
        sockets.push(socket);
      }
      await new Promise((r) => setTimeout(r, 800));
      const open = sockets.filter((s) => !s.destroyed).length;
      assert.ok(open >= 1 && open <= 30, `${open} of 40 connections stayed open with --max-connections 30`);
    } finally {
      for (const s of sockets) s.destroy();
    }
    await new Promise((r) => setTimeout(r, 100)); // the server counts the closes
    assert.equal((await get('/v1/errors')).status, 200, 'served again once below the cap');
  });
});
