// Haraka's cluster mode: how long after a REST change's 2xx every worker forces it, and what a worker's
// decision costs (one IPC round trip to the primary) against the same decision in a single process.
// `npm run bench:haraka`. The plugin is the real one (createHarakaPlugin, the ini set-up, the REST API,
// node:cluster IPC); only Haraka's plugin host object is replaced by a minimal one, so the figures are
// the plugin's own, without SMTP.
import cluster from 'node:cluster';
import { connect } from 'node:net';
import { availableParallelism, loadavg } from 'node:os';
import { createHarakaPlugin, type HarakaMxRoute, type HarakaPluginHost, type HMailLike } from '../src/adapters/haraka.js';
import { freePort } from '../test/helpers/haraka.js';

const WORKERS = 2;
const ROUNDS = Number(process.env['ROUNDS'] ?? 200);
const DECISIONS = 3000;
const PACE_MS = 1;

const now = () => Number(process.hrtime.bigint()) / 1e6; // ms on the monotonic clock every process shares

// A free loopback port for the REST API (only the primary reads the settings).
const HTTP_PORT = cluster.isWorker ? 0 : await freePort();

function host(): HarakaPluginHost {
  return {
    register_hook: () => undefined,
    config: { get: () => ({ main: { resolve_mx: false }, http: { port: HTTP_PORT } }) },
    loginfo: () => undefined,
    logerror: (...args: unknown[]) => console.error(...args),
  };
}

const plugin = createHarakaPlugin();
const self = host();
plugin.register.call(self);

/** One delivery's `get_mx` decision, as Haraka asks it. */
function decide(domain: string): Promise<HarakaMxRoute | undefined> {
  const hmail: HMailLike = { todo: { domain, rcpt_to: [{ address: `a@${domain}` }], notes: {} } };
  return new Promise((resolve) => plugin.intercept_get_mx.call(self, (_code, mx) => resolve(Array.isArray(mx) ? mx[0] : mx), hmail, domain));
}

/** Releases the fake MX port a forced decision opened (its first connection closes it). */
const release = (mx: HarakaMxRoute) => connect(mx.port, mx.exchange).on('connect', function (this: import('node:net').Socket) { this.destroy(); }).on('error', () => undefined);

async function timings(domain: string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = now();
    await decide(domain);
    out.push(now() - t);
  }
  return out;
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;
const fmt = (ms: number) => (ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : `${ms.toFixed(2)} ms`);

if (cluster.isWorker) {
  // Until told to stop, decide deliveries to flow.test back to back; report the first forced one.
  let round = -1;
  process.on('message', async (m: { go?: number; time?: boolean; echo?: number }) => {
    if (m.time) {
      process.send!({ timings: await timings('plain.test', DECISIONS) });
      const echoes: number[] = [];
      for (let i = 0; i < DECISIONS; i++) {
        const t = now();
        await new Promise<void>((resolve) => {
          const onEcho = (e: { echo?: number }) => { if (e.echo === i) { process.off('message', onEcho); resolve(); } };
          process.on('message', onEcho);
          process.send!({ echo: i });
        });
        echoes.push(now() - t);
      }
      process.send!({ echoes });
      return;
    }
    if (m.go === undefined) return;
    round = m.go;
    // About a thousand deliveries a second per worker: a busy MTA, not a loop saturating the CPU.
    for (;;) {
      const mx = await decide('flow.test');
      if (round !== m.go) return;
      if (mx !== undefined) {
        process.send!({ round, forcedAt: now() });
        release(mx);
        return;
      }
      await new Promise((r) => setTimeout(r, PACE_MS));
    }
  });
} else {
  const api = `http://127.0.0.1:${HTTP_PORT}/v1/errors`;
  const workers = Array.from({ length: WORKERS }, () => cluster.fork());
  await Promise.all(workers.map((w) => new Promise((r) => w.once('online', r))));
  await decide('warm.test'); // the primary's own start-up (rules, REST API) is done
  await new Promise((r) => setTimeout(r, 500));

  // Decision cost: in this process (a single Haraka process), then in a worker (IPC to the primary).
  const local = await timings('plain.test', DECISIONS);
  // Then in a worker (IPC to the primary), and the floor of any IPC transport: a bare echo.
  const [remote, echoes] = await new Promise<[number[], number[]]>((resolve) => {
    let decisions: number[] = [];
    // The worker's plugin talks to the primary on the same channel: pick out the bench's messages.
    const onMessage = (m: { timings?: number[]; echo?: number; echoes?: number[] }) => {
      if (m.echo !== undefined) workers[0]!.send({ echo: m.echo });
      if (m.timings !== undefined) decisions = m.timings;
      if (m.echoes === undefined) return;
      workers[0]!.off('message', onMessage);
      resolve([decisions, m.echoes]);
    };
    workers[0]!.on('message', onMessage);
    workers[0]!.send({ time: true });
  });

  const lags: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const forced = new Promise<number[]>((resolve, reject) => {
      const times: number[] = [];
      // A round that never completes fails the benchmark instead of hanging it.
      const deadline = setTimeout(() => reject(new Error(`round ${round}: ${WORKERS - times.length} worker(s) did not force the rule within 10 s`)), 10_000);
      const onMessage = (_w: unknown, m: { round?: number; forcedAt?: number }) => {
        if (m.round !== round || m.forcedAt === undefined) return;
        times.push(m.forcedAt);
        if (times.length === WORKERS) { clearTimeout(deadline); cluster.off('message', onMessage); resolve(times); }
      };
      cluster.on('message', onMessage);
    });
    for (const w of workers) w.send({ go: round });
    await new Promise((r) => setTimeout(r, 5 + Math.random() * 10)); // workers are mid-decision
    const res = await fetch(api, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ domain: 'flow.test', code: 550 }) });
    const acked = now();
    if (res.status !== 201) throw new Error(`POST answered ${res.status}: ${await res.text()}`);
    const times = await forced;
    // A decision the primary made after applying the change may reach its worker before the 2xx reaches
    // the client: that worker "had it" before the 2xx (lag 0).
    lags.push(Math.max(0, Math.max(...times) - acked));
    const del = await fetch(api, { method: 'DELETE', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ domain: 'flow.test' }) });
    if (del.status !== 200) throw new Error(`DELETE answered ${del.status}`);
  }

  const p99 = pct(lags, 99);
  const lines = [
    `Haraka cluster mode, ${WORKERS} workers deciding a delivery every ~${PACE_MS} ms, ${ROUNDS} rounds (node ${process.version}, ${process.platform}/${process.arch}, load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores)`,
    '| measure | p50 | p99 | max |',
    '|---|---|---|---|',
    `| 2xx of a POST -> every worker forces it | ${fmt(pct(lags, 50))} | ${fmt(p99)} | ${fmt(Math.max(...lags))} |`,
    `| unforced decision in a worker (IPC round trip) | ${fmt(pct(remote, 50))} | ${fmt(pct(remote, 99))} | ${fmt(Math.max(...remote))} |`,
    `| bare cluster IPC echo (floor) | ${fmt(pct(echoes, 50))} | ${fmt(pct(echoes, 99))} | ${fmt(Math.max(...echoes))} |`,
    `| unforced decision in a single process (baseline) | ${fmt(pct(local, 50))} | ${fmt(pct(local, 99))} | ${fmt(Math.max(...local))} |`,
    `worker decision / bare IPC echo (p50): ${(pct(remote, 50) / pct(echoes, 50)).toFixed(1)}x; worker / single-process decision (p50): ${(pct(remote, 50) / pct(local, 50)).toFixed(1)}x`,
    `target: propagation p99 < 50 ms: ${p99 < 50 ? 'met' : 'MISSED'} (${fmt(p99)})`,
  ];
  for (const w of workers) w.kill();
  plugin.shutdown.call(self);
  // Exit only once the output is written: a pipe is asynchronous.
  process.stdout.write(`${lines.join('\n')}\n`, () => process.exit(0));
}
