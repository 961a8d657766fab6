// `npm run bench:serve`: `smtp-intercept serve` (a child process, default limits) under a long run of
// mail: its RSS after 10k and 100k messages must stay within 20%; then, at the documented limits
// (1,000 kept messages of 100 KB), how long the API's requests block the event loop.
// `--messages <n>` shortens the run (the check needs 100000).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createFakeMx } from '../src/adapters/smtp-server.js';
import { ATTEMPTS_KEPT } from '../src/cli/serve.js';
import { AttemptLog } from '../src/cli/attempt-log.js';
import { createRecordsHandler } from '../src/cli/records-api.js';
import { Interceptor } from '../src/index.js';

const TOKEN = 'bench-token';
const flag = process.argv.indexOf('--messages');
const TOTAL = flag === -1 ? 100_000 : Number(process.argv[flag + 1]);
if (!Number.isSafeInteger(TOTAL) || TOTAL < 10_000) throw new Error('--messages must be an integer >= 10000');
const CONNECTIONS = 4;

async function startServe(dir: string): Promise<{ child: ChildProcess; smtp: number; http: number }> {
  const child = spawn(process.execPath, ['dist/esm/cli/index.js', 'serve', '--smtp-port', '0', '--http-port', '0', '--rules', join(dir, 'r.json')], { env: { ...process.env, SMTP_INTERCEPT_TOKEN: TOKEN }, stdio: ['ignore', 'pipe', 'inherit'] });
  process.once('exit', () => child.kill()); // never leave a server behind an interrupted run
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => { out += c.toString(); if (/http listening/.test(out)) resolve(); });
    child.once('exit', () => reject(new Error(`serve exited: ${out}`)));
  });
  const port = (name: string) => Number(new RegExp(`${name} listening on \\S+:(\\d+)`).exec(out)![1]);
  return { child, smtp: port('smtp'), http: port('http') };
}

const rss = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;

/** Sends `count` messages of `body` over one connection, each transaction pipelined in one write. */
function sendOn(port: number, count: number, body: string, onSent: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let buffer = '';
    let greeted = false;
    let replies = 0;
    let sent = 0;
    // Replies per message: MAIL, RCPT, DATA (354), end of data.
    const transaction = `MAIL FROM:<app@example.com>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n${body}\r\n.\r\n`;
    socket.on('error', reject);
    socket.on('data', (c: Buffer) => {
      buffer += c.toString('latin1');
      let end;
      while ((end = buffer.indexOf('\r\n')) !== -1) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (line[3] === '-') continue;
        if (!/^[23]/.test(line)) return reject(new Error(`unexpected reply ${line}`));
        if (line.startsWith('220 ') && !greeted) { socket.write('EHLO bench.example\r\n'); continue; }
        if (!greeted) { greeted = true; socket.write(transaction); continue; } // the EHLO reply
        if (++replies % 4 === 0) {
          sent++;
          onSent();
          if (sent === count) { socket.end('QUIT\r\n'); resolve(); } else socket.write(transaction);
        }
      }
    });
  });
}

async function send(port: number, count: number, body: string, onSent: (n: number) => void = () => undefined): Promise<void> {
  let n = 0;
  const per = Math.ceil(count / CONNECTIONS);
  await Promise.all(Array.from({ length: CONNECTIONS }, (_, i) => sendOn(port, Math.min(per, count - i * per), body, () => onSent(++n))));
}

async function get(port: number, path: string): Promise<Response> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  await res.arrayBuffer();
  return res;
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

async function memory(dir: string): Promise<void> {
  const serve = await startServe(dir);
  const body = `Subject: bench\r\nX-Campaign: c1\r\n\r\n${'x'.repeat(2000)}`;
  const samples = new Map<number, number>();
  const marks = [10_000, 25_000, 50_000, 75_000, 100_000].filter((m) => m <= TOTAL);
  const started = performance.now();
  console.log(`serve RSS with default limits, ${TOTAL} messages of ${body.length} bytes over ${CONNECTIONS} connections:`);
  await send(serve.smtp, TOTAL, body, (n) => {
    if (!marks.includes(n)) return;
    samples.set(n, rss(serve.child.pid!));
    console.log(`  after ${String(n).padStart(6)}: ${mb(samples.get(n)!)}`);
  });
  const seconds = (performance.now() - started) / 1000;
  console.log(`  (${Math.round(TOTAL / seconds)} msg/s)`);
  const first = samples.get(10_000);
  const last = samples.get(Math.max(...samples.keys()));
  if (first && last && TOTAL >= 100_000) {
    const ratio = last / first;
    console.log(`  100k / 10k: ${ratio.toFixed(2)}x  target <= 1.20x: ${ratio <= 1.2 ? 'met' : 'MISSED'}`);
  }
  serve.child.kill('SIGTERM');
  await new Promise((r) => serve.child.once('exit', r));
}

/**
 * The API's requests at the documented limits, in this process: each handler answers synchronously,
 * so the time inside the listener is the time the event loop is blocked (network and the machine's
 * other load excluded).
 */
async function stalls(): Promise<void> {
  const interceptor = new Interceptor();
  const mx = await createFakeMx({ interceptor });
  const attempts = new AttemptLog(interceptor, ATTEMPTS_KEPT); // full after the first 250 messages
  const records = createRecordsHandler({ token: TOKEN, attempts, messages: mx.store });
  const blocked = new Map<string, number[]>();
  const http = createServer((req, res) => {
    const t = performance.now();
    records(req, res);
    const key = (req.url ?? '').replace(/=\d+/g, '=N').replace(/messages\/\d+/, 'messages/:id');
    blocked.set(key, [...(blocked.get(key) ?? []), performance.now() - t]);
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const port = (http.address() as { port: number }).port;
  await send(mx.port, 1000, `Subject: big\r\n\r\n${('y'.repeat(998) + '\r\n').repeat(100)}`);
  const lag = monitorEventLoopDelay({ resolution: 5 });
  lag.enable();
  for (let round = 0; round < 5; round++) {
    await get(port, '/v1/messages?limit=1000');
    for (let next: string | null = '0'; next !== null;) {
      const res = await fetch(`http://127.0.0.1:${port}/v1/messages?after=${next}`, { headers: { authorization: `Bearer ${TOKEN}` } });
      next = ((await res.json()) as { next: string | null }).next;
    }
    for (let id = 1; id <= 1000; id += 50) await get(port, `/v1/messages/${id}/raw`);
    await get(port, '/v1/attempts');
  }
  lag.disable();
  console.log(`${mx.store.size} kept messages of ${mb(mx.store.bytes / mx.store.size)} each (default limits), 5 rounds; time inside the handler:`);
  let worst = 0;
  for (const [path, times] of blocked) {
    const max = Math.max(...times);
    worst = Math.max(worst, max);
    console.log(`  GET ${path}: ${times.length} requests, median ${times.sort((a, b) => a - b)[times.length >> 1]!.toFixed(2)} ms, max ${max.toFixed(2)} ms`);
  }
  console.log(`  worst: ${worst.toFixed(1)} ms  target <= 50 ms: ${worst <= 50 ? 'met' : 'MISSED'}; event loop delay meanwhile: max ${(lag.max / 1e6).toFixed(1)} ms`);
  http.close();
  attempts.close();
  await mx.close();
}

const dir = mkdtempSync(join(tmpdir(), 'smtp-intercept-bench-serve-'));
try {
  console.log(`Node ${process.version}, the machine's other load included.`);
  await memory(dir);
  await stalls();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
