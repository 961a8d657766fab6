// serve's dashboard page, GET /metrics and GET /v1/attempts/stream, over real HTTP and SMTP.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { SERVE_DEFAULTS } from '../../src/cli/options.js';
import { type Served, serve } from '../../src/cli/serve.js';
import { LIVE_LIMITS } from '../../src/cli/live-attempts.js';

const dir = mkdtempSync(join(tmpdir(), 'smtp-intercept-observe-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const token = 'observe-test-token';
let n = 0;
const start = (metricsPublic = false) => serve({ ...SERVE_DEFAULTS, host: '127.0.0.1', smtpPort: 0, httpPort: 0, rules: join(dir, `r${n++}.json`), token, metricsPublic });
const url = (s: Served, path: string) => `http://127.0.0.1:${s.http.port}${path}`;
const auth = { authorization: `Bearer ${token}` };
const send = (s: Served, to: string) => nodemailer.createTransport({ host: '127.0.0.1', port: s.smtp.port, secure: false, ignoreTLS: true })
  .sendMail({ from: 'app@example.com', to, text: 'x' }).then(() => 'sent', (e: { response?: string }) => e.response);

/** Reads server-sent events from a fetch body until one satisfies `last`. */
async function events(body: ReadableStream<Uint8Array>, last: (event: any) => boolean): Promise<any[]> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  const out: any[] = [];
  let buffer = '';
  while (!out.some(last)) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    for (let end; (end = buffer.indexOf('\n\n')) !== -1; buffer = buffer.slice(end + 2)) {
      const data = buffer.slice(0, end).split('\n').find((l) => l.startsWith('data: '));
      if (data) out.push(JSON.parse(data.slice(6)));
    }
  }
  await reader.cancel();
  return out;
}

describe('serve: dashboard, metrics, live attempts', () => {
  it('serves the page without the token and nothing else: no external resources, a strict CSP', async () => {
    const s = await start();
    try {
      const page = await fetch(url(s, '/'));
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
      assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'; script-src 'sha256-[A-Za-z0-9+/=]+'/);
      const html = await page.text();
      assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//, 'no external resource');
      assert.ok(Buffer.byteLength(html) < 32 * 1024, `the page stays small (${Buffer.byteLength(html)} B)`);
      assert.equal((await fetch(url(s, '/v1/attempts/stream'))).status, 401);
      assert.equal((await fetch(url(s, '/metrics'))).status, 401);
      assert.equal((await fetch(url(s, '/'), { method: 'POST' })).status, 405);
      assert.equal((await fetch(url(s, '/v1/attempts/stream'), { method: 'HEAD', headers: auth })).status, 405);
    } finally { await s.close(); }
  });

  it('GET /metrics: the text format, counting forced and passed attempts; public with metricsPublic', async () => {
    const s = await start();
    const open = await start(true);
    try {
      await fetch(url(s, '/v1/errors'), { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ domain: 'gmail.com', code: 421 }) });
      assert.equal(await send(s, 'bob@gmail.com'), '421 4.0.0 forced deferring');
      assert.equal(await send(s, 'bob@example.org'), 'sent');
      const res = await fetch(url(s, '/metrics'), { headers: auth });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      assert.match(text, /^smtp_intercept_checks_total\{outcome="deferred"\} 1$/m);
      assert.match(text, /^smtp_intercept_forced_total\{class="4xx",phase="rcpt"\} 1$/m);
      assert.match(text, /^smtp_intercept_rules\{scope="instance"\} 1$/m);
      assert.match(text, /^smtp_intercept_checks_total\{outcome="passed"\} \d+$/m);
      const pub = await fetch(url(open, '/metrics'));
      assert.equal(pub.status, 200);
      assert.match(await pub.text(), /^# TYPE smtp_intercept_rules gauge$/m);
    } finally { await Promise.all([s.close(), open.close()]); }
  });

  it('GET /v1/attempts/stream: each attempt as it happens, forced ones with their rule and reply', async () => {
    const s = await start();
    try {
      const rule = await (await fetch(url(s, '/v1/errors'), { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ domain: 'gmail.com', code: 550, description: 'no such user' }) })).json() as { id: string };
      const res = await fetch(url(s, '/v1/attempts/stream'), { headers: auth });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
      const seen = events(res.body!, (e) => e.attempt.phase === 'rcpt');
      assert.equal(await send(s, 'bob@gmail.com'), '550 5.0.0 no such user');
      const all = await seen;
      assert.deepEqual(all.map((e) => e.attempt.phase), ['connect', 'mail', 'rcpt'], 'in the order checked');
      const rcpt = all[2];
      assert.deepEqual({ ...rcpt, at: typeof rcpt.at }, {
        at: 'string', forced: true, rule: rule.id, reply: '550 5.0.0 no such user', fault: null, outcome: 'failed',
        attempt: { pool: null, mta: '127.0.0.1', domain: null, ip: '127.0.0.1', recipient: 'bob@gmail.com', sender: 'app@example.com', mx: null, tags: [], phase: 'rcpt', tls: false },
      });
    } finally { await s.close(); }
  });

  it('the asset is up to date: the committed page is what dashboard/ builds', () => {
    execFileSync(process.execPath, ['dashboard/build.mjs', '--check'], { cwd: resolve(import.meta.dirname, '../..'), stdio: 'pipe' });
  });

  it(`refuses more than ${LIVE_LIMITS.streams} streams with a 503, and close() ends open streams`, async () => {
    const s = await start();
    const controllers: AbortController[] = [];
    try {
      const open = await Promise.all(Array.from({ length: LIVE_LIMITS.streams }, () => {
        const c = new AbortController();
        controllers.push(c);
        return fetch(url(s, '/v1/attempts/stream'), { headers: auth, signal: c.signal });
      }));
      assert.ok(open.every((r) => r.status === 200));
      const refused = await fetch(url(s, '/v1/attempts/stream'), { headers: auth });
      assert.equal(refused.status, 503);
      assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'too_many_streams');
      const body = open[0]!.body!.getReader();
      await s.close();
      for (;;) if ((await body.read()).done) break; // the stream ended with the server
    } finally { for (const c of controllers) c.abort(); }
  });
});
