// Start-up: ready() of 1,000 / 100,000 / 1,000,000 stored rules from a FileStore, a RedisStore and a
// MemoryStore (the engine alone), against the in-memory add baseline of the same run, with the peak heap
// during the load. `npm run bench:startup` (needs redis-server; `-- --quick` stops at 100k rules,
// `-- --sizes=1000,50000` picks sizes, `-- --scenarios=redis-load,redis` scenarios).
//
// After each `ready()` the first page of a listing is timed: it builds the listing index a start-up defers.
//
// Every measurement runs in a fresh process (`--child`), so each heap holds only what its scenario built.
// The heap is sampled every 2 ms and, during the synchronous restore, every 8,192 installed rules
// (a `rule:added` diagnostics-channel subscriber): the peak printed is a sampled lower bound. CPU time
// (every thread of the process, the garbage collector's included) is printed beside the wall time: on a
// shared machine it moves far less with other load.
//
// The children measure the compiled package (`dist/`, built by the npm script first), as users run it:
// under tsx, `src/` pays esbuild's keepNames wrappers on every closure created per call (measured: about
// 0.8 s of a million-rule start-up before the stored-rule fast path), a cost the published build does not have.
import { spawnSync } from 'node:child_process';
import { subscribe } from 'node:diagnostics_channel';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import { Redis } from 'ioredis';
import type { RuleStore } from '../src/index.js';
import { startRedis } from '../test/helpers/redis-server.js';
import { startupInputAt, storedAt } from './workload.js';

const gc = (globalThis as { gc?: () => void }).gc;

/** A module of the build, typed as its source (the path is not a literal: the build may not exist when type-checking). */
const built = <T>(path: string): Promise<T> => import(new URL(`../dist/esm/${path}`, import.meta.url).href) as Promise<T>;

/** Writes `size` stored rules as the FileStore journal the store reads, in chunks to bound memory. */
function writeRuleFile(path: string, size: number): void {
  // FileStore's journal: a header line, then one `put` record per line (docs/stores.md).
  writeFileSync(path, '{"format":"smtp-intercept-journal","version":2}\n');
  for (let start = 0; start < size; start += 10_000) {
    const chunk: string[] = [];
    for (let i = start; i < Math.min(size, start + 10_000); i++) chunk.push(`{"put":${JSON.stringify(storedAt(i, false))}}\n`);
    appendFileSync(path, chunk.join(''));
  }
}

/** Fills RedisStore's hash (prefix `startup-<size>`) with pipelined HSETs in its key layout, and its version. */
async function fillRedis(url: string, size: number): Promise<void> {
  const client = new Redis(url);
  const prefix = `startup-${size}`;
  for (let start = 0; start < size; start += 2_000) {
    const fields: string[] = [];
    for (let i = start; i < Math.min(size, start + 2_000); i++) {
      const json = storedAt(i, true);
      fields.push(json.id, JSON.stringify(json));
    }
    await client.hset(`${prefix}:rules`, ...fields);
  }
  await client.set(`${prefix}:version`, '1');
  client.disconnect();
}

/** `first`: the first listing after `ready()` (it builds the listing index); `listed`: the heap after it. */
interface Figures { ms: number; cpu: number; peak: number; loaded: number; size: number; first?: number; listed?: number }

/** One measurement in this process: `scenario` at `size` rules. */
async function child(scenario: string, size: number, dir: string, url: string): Promise<Figures> {
  const { channels, Interceptor, MemoryStore } = await built<typeof import('../src/index.js')>('index.js');
  const { FileStore } = await built<typeof import('../src/stores/file.js')>('stores/file.js');
  const { RedisStore } = await built<typeof import('../src/stores/redis.js')>('stores/redis.js');
  let store: RuleStore | undefined;
  let cluster: RuleStore | undefined;
  if (scenario === 'memory') {
    store = new MemoryStore();
    for (let i = 0; i < size; i++) await store.put(storedAt(i, false));
  } else if (scenario === 'file' || scenario === 'file-load') {
    store = new FileStore(join(dir, `rules-${size}.json`));
  } else if (scenario === 'redis' || scenario === 'redis-load') {
    cluster = new RedisStore({ redis: url, prefix: `startup-${size}` });
  }
  const inputs = scenario === 'add' ? Array.from({ length: size }, (_, i) => startupInputAt(i, false)) : [];
  gc?.();
  const before = getHeapStatistics().used_heap_size;
  let peak = before;
  const sample = () => { peak = Math.max(peak, getHeapStatistics().used_heap_size); };
  const timer = setInterval(sample, 2);
  let installed = 0;
  subscribe(channels.ruleAdded, () => { if ((++installed & 8191) === 0) sample(); });
  const ic = new Interceptor({ store, clusterStore: cluster });
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  let loaded: unknown;
  if (scenario === 'add') for (const input of inputs) await ic.add(input);
  else if (scenario.endsWith('-load')) loaded = await (store ?? cluster)!.load();
  else await ic.ready();
  const ms = performance.now() - start;
  const used = process.cpuUsage(cpuStart);
  sample();
  clearInterval(timer);
  const count = Array.isArray(loaded) ? loaded.length : ic.size;
  if (count !== size) throw new Error(`${scenario}: ${count} rules, expected ${size}`);
  gc?.();
  const heap = getHeapStatistics().used_heap_size - before;
  // The first page of a listing after a start-up builds the listing index (rule-index.ts `catalog`).
  let first: number | undefined;
  let listed: number | undefined;
  if (!scenario.endsWith('-load') && scenario !== 'add') {
    const at = performance.now();
    if (ic.listPage(undefined, { limit: 100 }).rules.length === 0) throw new Error(`${scenario}: an empty first page`);
    first = performance.now() - at;
    gc?.();
    listed = getHeapStatistics().used_heap_size - before;
  }
  await ic.close();
  await store?.close();
  await cluster?.close();
  return { ms, cpu: (used.user + used.system) / 1000, peak: peak - before, loaded: heap, size: ic.size, first, listed };
}

if (process.argv[2] === '--child') {
  const [, , , scenario, size, dir, url] = process.argv;
  console.log(JSON.stringify(await child(scenario!, Number(size), dir!, url!)));
  process.exit(0);
}

function run(scenario: string, size: number, dir: string, url: string): Figures {
  const out = spawnSync(process.execPath, ['--expose-gc', '--max-old-space-size=8192', '--import', 'tsx', process.argv[1]!, '--child', scenario, String(size), dir, url],
    { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (out.status !== 0) throw new Error(`${scenario} at ${size} failed: ${out.stderr}`);
  return JSON.parse(out.stdout.trim().split('\n').pop()!) as Figures;
}

const quick = process.argv.includes('--quick');
const only = process.argv.find((a) => a.startsWith('--sizes='));
// `-- --scenarios=redis-load,redis` runs only those (the `add` baseline always runs).
const picked = process.argv.find((a) => a.startsWith('--scenarios='))?.slice(12).split(',');
const SIZES = only ? only.slice(8).split(',').map(Number) : quick ? [1_000, 100_000] : [1_000, 100_000, 1_000_000];
const MB = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;
const dir = mkdtempSync(join(tmpdir(), 'smtp-intercept-startup-'));
const server = await startRedis();
console.log(`node ${process.version}, ${process.arch}; sizes ${SIZES.join(', ')}; one process per figure`);
try {
  for (const size of SIZES) {
    writeRuleFile(join(dir, `rules-${size}.json`), size);
    await fillRedis(server.url, size);
    const add = run('add', size, dir, server.url);
    console.log(`\n${size.toLocaleString('en-US')} rules: add baseline ${add.ms.toFixed(0)} ms (${(add.ms * 1000 / size).toFixed(1)} µs/rule; CPU ${add.cpu.toFixed(0)} ms), heap ${MB(add.loaded)}`);
    for (const scenario of ['memory', 'file-load', 'file', 'redis-load', 'redis'].filter((s) => !picked || picked.includes(s))) {
      const f = run(scenario, size, dir, server.url);
      const what = scenario.endsWith('-load') ? `${scenario.replace('-load', '')} store.load() alone` : `${scenario} ready()`;
      const target = scenario === 'file' || scenario === 'redis'
        ? `  target <= 5 s and peak <= 2x: ${f.ms <= 5000 && f.peak <= 2 * f.loaded ? 'met' : 'missed'}` : '';
      console.log(`  ${what.padEnd(28)} ${f.ms.toFixed(0).padStart(6)} ms  ${(f.ms / add.ms).toFixed(3)}x add  CPU ${f.cpu.toFixed(0).padStart(6)} ms  ${(f.cpu / add.cpu).toFixed(3)}x`
        + `   peak ${MB(f.peak).padStart(9)}  loaded ${MB(f.loaded).padStart(9)}  peak/loaded ${(f.peak / f.loaded).toFixed(2)}x${target}`
        + (f.first === undefined ? '' : `\n  ${''.padEnd(28)} first listing ${f.first.toFixed(0)} ms, heap then ${MB(f.listed!)}`));
    }
  }
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
