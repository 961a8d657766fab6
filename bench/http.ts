// REST API throughput against a bare node:http server measured in the same run, and GET latency with
// 100k rules. `npm run bench:http`. Servers run in child processes; this process generates the load
// over keep-alive connections, in interleaved rounds (best round kept).
import { type ChildProcess, spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { once } from 'node:events';

const CONCURRENCY = 32;
const ROUND_MS = 1500;
const ROUNDS = 4;
const TOKEN = 'bench-token';

async function start(args: string[]): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/http-server.ts', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
  return { port: Number(chunk.toString().trim()), child };
}

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

function call(port: number, method: string, path: string, body?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { authorization: `Bearer ${TOKEN}` };
    if (body !== undefined) { headers['content-type'] = 'application/json'; headers['content-length'] = Buffer.byteLength(body); }
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Requests per second over ROUND_MS with CONCURRENCY requests in flight; every answer must be 2xx. */
async function rate(port: number, make: (i: number) => [string, string, string | undefined]): Promise<number> {
  let done = 0;
  const deadline = performance.now() + ROUND_MS;
  const start = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async (_, worker) => {
    for (let i = worker; performance.now() < deadline; i += CONCURRENCY) {
      const status = await call(port, ...make(i));
      if (status < 200 || status >= 300) throw new Error(`unexpected status ${status}`);
      done++;
    }
  }));
  return done / ((performance.now() - start) / 1000);
}

async function latency(port: number, path: string, count: number): Promise<{ p50: number; p99: number }> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await call(port, 'GET', path);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(count * 0.5)]!, p99: times[Math.min(count - 1, Math.floor(count * 0.99))]! };
}

const post = (i: number): [string, string, string] => ['POST', '/v1/errors', JSON.stringify({ domain: `d${i % 1000}.bench.example`, code: 421 })];
const get = (): [string, string, undefined] => ['GET', '/v1/errors?domain=d1.bench.example', undefined];

const api = await start(['api', '0']);
const bare = await start(['bare']);
const best = { apiPost: 0, barePost: 0, apiGet: 0, bareGet: 0 };
for (let r = 0; r < ROUNDS; r++) {
  best.apiPost = Math.max(best.apiPost, await rate(api.port, post));
  best.barePost = Math.max(best.barePost, await rate(bare.port, post));
  best.apiGet = Math.max(best.apiGet, await rate(api.port, get));
  best.bareGet = Math.max(best.bareGet, await rate(bare.port, get));
}
api.child.kill();
bare.child.kill();

const big = await start(['api', '100000']);
const rule = JSON.parse(await new Promise<string>((resolve) => {
  request({ host: '127.0.0.1', port: big.port, path: '/v1/errors?domain=d0.example', headers: { authorization: `Bearer ${TOKEN}` }, agent }, (res) => {
    let text = '';
    res.on('data', (c) => { text += c; });
    res.on('end', () => resolve(text));
  }).end();
})) as { id: string }[];
const byId = await latency(big.port, `/v1/errors/${rule[0]!.id}`, 2000);
const filtered = await latency(big.port, '/v1/errors?domain=d0.example', 100);
const full = await latency(big.port, '/v1/errors', 10);
big.child.kill();
agent.destroy();

const fmt = (n: number) => n.toFixed(0).padStart(7);
console.log(`node ${process.version}; ${CONCURRENCY} requests in flight, best of ${ROUNDS} rounds of ${ROUND_MS} ms`);
console.log(`POST /v1/errors       ${fmt(best.apiPost)} req/s   bare node:http ${fmt(best.barePost)} req/s   ratio ${(best.apiPost / best.barePost).toFixed(2)}`);
console.log(`GET  /v1/errors?domain ${fmt(best.apiGet)} req/s   bare node:http ${fmt(best.bareGet)} req/s   ratio ${(best.apiGet / best.bareGet).toFixed(2)}`);
console.log('GET latency with 100,000 rules (one request at a time):');
console.log(`  GET /v1/errors/:id          p50 ${byId.p50.toFixed(2)} ms   p99 ${byId.p99.toFixed(2)} ms`);
console.log(`  GET /v1/errors?domain=...   p50 ${filtered.p50.toFixed(2)} ms   p99 ${filtered.p99.toFixed(2)} ms`);
console.log(`  GET /v1/errors (all 100k)   p50 ${full.p50.toFixed(0)} ms   p99 ${full.p99.toFixed(0)} ms`);
console.log();
console.log(`${best.apiPost / best.barePost >= 0.5 ? 'MET   ' : 'MISSED'} POST throughput >= 0.5x a bare node:http server (${(best.apiPost / best.barePost).toFixed(2)}x)`);
