// REST API throughput against a bare node:http server measured in the same run, and GET latency with
// 100k rules. `npm run bench:http`. Servers run in child processes; this process generates the load
// over keep-alive connections, in interleaved rounds; each round's API/bare ratio is kept, and the
// median and the spread of the ratios are printed (the machine's load moves single rounds a lot).
import { type ChildProcess, spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { once } from 'node:events';

const CONCURRENCY = 32;
const ROUND_MS = 1000;
const ROUNDS = process.argv.includes('--quick') ? 3 : 10;
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

function cpu(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/__cpu', agent }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve(Number(text)));
    }).on('error', reject).end();
  });
}

/** Server CPU microseconds per request of the last {@link rate} round. */
let cpuPerRequest = 0;

/** Requests per second over ROUND_MS with CONCURRENCY requests in flight; every answer must be 2xx. */
async function rate(port: number, make: (i: number) => [string, string, string | undefined]): Promise<number> {
  const cpuBefore = await cpu(port);
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
  const seconds = (performance.now() - start) / 1000;
  cpuPerRequest = ((await cpu(port)) - cpuBefore) / done;
  return done / seconds;
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

/** The first rule a domain filter lists. */
async function firstRule(port: number, domain: string): Promise<{ id: string }> {
  const text = await new Promise<string>((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: `/v1/errors?domain=${domain}`, headers: { authorization: `Bearer ${TOKEN}` }, agent }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve(body));
    }).on('error', reject).end();
  });
  return (JSON.parse(text) as { id: string }[])[0]!;
}

const post = (i: number): [string, string, string] => ['POST', '/v1/errors', JSON.stringify({ domain: `d${i % 1000}.bench.example`, code: 421 })];
const list = (): [string, string, undefined] => ['GET', '/v1/errors?domain=d1.bench.example', undefined];

const api = await start(['api', '0']);
const bare = await start(['bare']);
await rate(api.port, post); // creates the 1,000 rules; warms both servers
await rate(bare.port, post);
const byIdPath = `/v1/errors/${(await firstRule(api.port, 'd7.bench.example')).id}`;
const byId = (): [string, string, undefined] => ['GET', byIdPath, undefined];

const scenarios = [['POST /v1/errors', post], ['GET  /v1/errors/:id', byId], ['GET  /v1/errors?domain', list]] as const;
const ratios = new Map<string, { api: number[]; bare: number[]; ratio: number[]; cpu: number[] }>(scenarios.map(([name]) => [name, { api: [], bare: [], ratio: [], cpu: [] }]));
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, make] of scenarios) {
    const a = await rate(api.port, make);
    const apiCpu = cpuPerRequest;
    const b = await rate(bare.port, make);
    const entry = ratios.get(name)!;
    entry.cpu.push(cpuPerRequest / apiCpu);
    entry.api.push(a);
    entry.bare.push(b);
    entry.ratio.push(a / b);
  }
}
api.child.kill();
bare.child.kill();

const big = await start(['api', '100000']);
const idLatency = await latency(big.port, `/v1/errors/${(await firstRule(big.port, 'd0.example')).id}`, 2000);
const filtered = await latency(big.port, '/v1/errors?domain=d0.example', 100);
const full = await latency(big.port, '/v1/errors', 10);
big.child.kill();
agent.destroy();

const fmt = (n: number) => n.toFixed(0).padStart(7);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`node ${process.version}; ${CONCURRENCY} requests in flight, ${ROUNDS} interleaved rounds of ${ROUND_MS} ms; median of the rounds, ratio spread min-max`);
for (const [name, { api: a, bare: b, ratio, cpu: c }] of ratios) {
  console.log(`${name.padEnd(24)} ${fmt(median(a))} req/s   bare node:http ${fmt(median(b))} req/s   ratio ${median(ratio).toFixed(2)} (${Math.min(...ratio).toFixed(2)}-${Math.max(...ratio).toFixed(2)})   server CPU per request, bare/API ${median(c).toFixed(2)} (${Math.min(...c).toFixed(2)}-${Math.max(...c).toFixed(2)})`);
}
console.log('GET latency with 100,000 rules (one request at a time):');
console.log(`  GET /v1/errors/:id          p50 ${idLatency.p50.toFixed(2)} ms   p99 ${idLatency.p99.toFixed(2)} ms`);
console.log(`  GET /v1/errors?domain=...   p50 ${filtered.p50.toFixed(2)} ms   p99 ${filtered.p99.toFixed(2)} ms`);
console.log(`  GET /v1/errors (all 100k)   p50 ${full.p50.toFixed(0)} ms   p99 ${full.p99.toFixed(0)} ms`);
console.log();
for (const name of ['POST /v1/errors', 'GET  /v1/errors/:id']) {
  const ratio = median(ratios.get(name)!.ratio);
  console.log(`${ratio >= 0.6 ? 'MET   ' : 'MISSED'} ${name.replace(/ +/, ' ')} throughput >= 0.6x a bare node:http server (median ${ratio.toFixed(2)}x)`);
}
