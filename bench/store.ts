// FileStore write cost against the rules already stored, and group commit. `npm run bench:store`.
// STORE_BENCH_SIZES (default 1000,100000,1000000) picks the stored rule counts.
//
// Per size, in a process of its own (so one size's heap does not slow the next): the in-memory
// `Interceptor.add` baseline at that many rules; the journal written directly (the pre-fill), loaded;
// fsynced `store.put` and `Interceptor.add` over it; then one compaction of that many rules with puts
// running meanwhile (their latency while the snapshot is written).
// Then 1,000 concurrent vs 1,000 sequential writes, through the store and the engine.
import { appendFileSync, closeSync, fsyncSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Interceptor, type RuleJSON } from '../src/index.js';
import { FileStore } from '../src/stores/file.js';
import { ruleAt } from './workload.js';

const SIZES = (process.env.STORE_BENCH_SIZES ?? '1000,100000,1000000').split(',').map(Number);
const dir = mkdtempSync(join(tmpdir(), 'smtp-intercept-bench-store-'));
const HEADER = '{"format":"smtp-intercept-journal","version":2}\n';
let extra = 50_000_000; // workload indices of rules written by the measurements, never pre-filled

const perOp = async (count: number, op: () => Promise<unknown>): Promise<number> => {
  const start = performance.now();
  for (let i = 0; i < count; i++) await op();
  return (performance.now() - start) / count;
};
/** A new rule's stored JSON, as the engine would write it. */
const fresh = (): RuleJSON => {
  const input = { ...ruleAt(extra++), cluster: false };
  return { ...input, id: memory.idOf(input), created: '2026-01-01T00:00:00.000Z', updated: '2026-01-01T00:00:00.000Z', hits: 0 } as RuleJSON;
};
const fsyncFile = (path: string) => {
  const fd = openSync(path, 'r');
  fsyncSync(fd);
  closeSync(fd);
};
const ms = (value: number) => `${value.toFixed(3)} ms`;
const rows: string[][] = [];

const memory = new Interceptor();
const sizeArg = process.argv.indexOf('--size');
if (sizeArg === -1) {
  console.log(`node ${process.version}; shared 2-core machine under load from other work: compare ratios, not absolute figures`);
  for (const size of SIZES) {
    const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--size', String(size)], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
    if (child.status !== 0) throw new Error(`the ${size}-rule run failed (${child.status ?? child.signal})`);
    const [compaction, row] = child.stdout.trim().split('\n');
    console.log(compaction);
    rows.push(JSON.parse(row!) as string[]);
  }
  report();
  await groupCommit();
} else {
  const size = Number(process.argv[sizeArg + 1]);
  for (let next = 0; next < size;) await memory.add({ ...ruleAt(next++), cluster: false });
  const baseline = await perOp(1000, () => memory.add({ ...ruleAt(extra++), cluster: false }));

  // The pre-fill: the journal a store holding `size` rules would have after a compaction.
  const path = join(dir, `rules-${size}.json`);
  writeFileSync(path, HEADER);
  const rules = memory.list();
  for (let i = 0; i < size; i += 10_000) {
    appendFileSync(path, rules.slice(i, Math.min(i + 10_000, size)).map((r) => `${JSON.stringify({ put: r.toJSON() })}\n`).join(''));
  }
  fsyncFile(path); // or the first measured fsync would flush the whole pre-fill
  const store = new FileStore(path);
  let start = performance.now();
  await store.load();
  const loadMs = performance.now() - start;
  const put = await perOp(300, () => store.put(fresh()));
  await store.close();

  const ic = new Interceptor({ store: new FileStore(path) });
  start = performance.now();
  await ic.ready();
  const readyMs = performance.now() - start;
  const add = await perOp(300, () => ic.add({ ...ruleAt(extra++), cluster: false }));
  await ic.close();
  const row = [size.toLocaleString('en'), ms(baseline), ms(put), `${(put / baseline).toFixed(0)}x`, ms(add), `${(add / baseline).toFixed(0)}x`,
    `${(loadMs / 1000).toFixed(2)} s`, `${(readyMs / 1000).toFixed(2)} s`];

  // A compaction of `size` rules: enough tiny records make the journal due at the next put.
  appendFileSync(path, '{"delete":[]}\n'.repeat(size + 1000));
  fsyncFile(path);
  const compacting = new FileStore(path, { compactionSlack: 0 });
  await compacting.load();
  const latencies: number[] = [];
  start = performance.now();
  const before = statSync(path).ino; // the compaction renames a new file over the journal
  while (statSync(path).ino === before && performance.now() - start < 600_000) {
    const t = performance.now();
    await compacting.put(fresh());
    latencies.push(performance.now() - t);
  }
  const compactionMs = performance.now() - start;
  await compacting.close();
  latencies.sort((a, b) => a - b);
  console.log(`${size.toLocaleString('en')} rules: compaction took ${(compactionMs / 1000).toFixed(2)} s; ${latencies.length} puts acknowledged meanwhile, ` +
    `p50 ${ms(latencies[Math.floor(latencies.length / 2)]!)}, max ${ms(latencies.at(-1)!)}`);
  console.log(JSON.stringify(row));
  rmSync(dir, { recursive: true, force: true });
}

/** The table of the per-size runs, and how flat the writes stay. */
function report(): void {
  console.log('\nfsynced add with N rules stored (mean of 300; baseline: in-memory Interceptor.add at N rules, mean of 1,000)');
  console.log(['stored', 'in-memory add', 'store.put', 'ratio', 'Interceptor.add', 'ratio', 'store.load()', 'ready()'].join(' | '));
  for (const row of rows) console.log(row.join(' | '));
  const first = rows[0]!, last = rows.at(-1)!;
  const flat = (column: number) => (Number.parseFloat(last[column]!) / Number.parseFloat(first[column]!)).toFixed(2);
  console.log(`${last[0]} vs ${first[0]} rules: store.put ${flat(2)}x, Interceptor.add ${flat(4)}x (target: within 1.5x)`);
}

/** Group commit: 1,000 writes at once share writes and fsyncs; one at a time each pays its own. */
async function groupCommit(): Promise<void> {
  const store = new FileStore(join(dir, 'concurrency.json'));
  let start = performance.now();
  for (let i = 0; i < 1000; i++) await store.put(fresh());
  const sequential = 1000 / ((performance.now() - start) / 1000);
  start = performance.now();
  await Promise.all(Array.from({ length: 1000 }, () => store.put(fresh())));
  const concurrent = 1000 / ((performance.now() - start) / 1000);
  await store.close();
  const ic = new Interceptor({ store: new FileStore(join(dir, 'concurrency-ic.json')) });
  await ic.ready();
  start = performance.now();
  for (let i = 0; i < 1000; i++) await ic.add({ ...ruleAt(extra++), cluster: false });
  const icSequential = 1000 / ((performance.now() - start) / 1000);
  start = performance.now();
  await Promise.all(Array.from({ length: 1000 }, () => ic.add({ ...ruleAt(extra++), cluster: false })));
  const icConcurrent = 1000 / ((performance.now() - start) / 1000);
  await ic.close();
  console.log(`\n1,000 writes: store.put ${sequential.toFixed(0)}/s one at a time, ${concurrent.toFixed(0)}/s all at once (${(concurrent / sequential).toFixed(1)}x; target >= 10x)`);
  console.log(`1,000 writes: Interceptor.add ${icSequential.toFixed(0)}/s one at a time, ${icConcurrent.toFixed(0)}/s all at once (${(icConcurrent / icSequential).toFixed(1)}x)`);
  rmSync(dir, { recursive: true, force: true });
}
