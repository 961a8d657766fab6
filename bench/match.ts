// check() throughput against baselines measured in the same run. `npm run bench` (add `-- --quick` to
// stop at 100k rules). Prints ns/op, ratios and whether each target of docs/performance.md is met.
//
// Every scenario is set up first; then the scenarios are measured in interleaved rounds and each keeps
// its fastest round. On a shared machine other load only ever adds time, and interleaving spreads it
// over all scenarios instead of penalising whichever ran during a burst.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { normalizeAttempt } from '../src/attempt.js';
import { type Attempt, channels, Interceptor } from '../src/index.js';
import { LinearMatcher } from '../src/linear-matcher.js';
import { type Scenario, Scenarios } from './scenarios.js';
import { hitAt, indices, missAt, ruleAt } from './workload.js';

const quick = process.argv.includes('--quick');
const SIZES = quick ? [10, 10_000, 100_000] : [10, 10_000, 100_000, 1_000_000];
const ROUNDS = 12;
const gc = (globalThis as { gc?: () => void }).gc;
const bench = new Scenarios();
const scenarios = bench.all;
const scenario = bench.add.bind(bench);

function measure(list: Scenario[]): void {
  gc?.();
  bench.measure(ROUNDS, list);
}

async function build(size: number, cacheSize: number): Promise<Interceptor> {
  const ic = new Interceptor({ cacheSize });
  for (let i = 0; i < size; i++) await ic.add(ruleAt(i));
  return ic;
}

/** Half hits on random rules, half misses; all distinct objects. */
function attempts(size: number, count: number): Attempt[] {
  return indices(size, count).map((i, n) => (n % 2 === 0 ? hitAt(i) : missAt(n)));
}

console.log(`node ${process.version}, ${process.arch}; sizes ${SIZES.join(', ')}; ${ROUNDS} interleaved rounds, best kept`);
// Phase 1, before the uncached scenarios exist (they share check()'s JIT feedback with a cache-less
// interceptor): a working set of 64 attempts that stays in the cache, against a bare Map.get.
const cachedIc = await build(10_000, 10_000);
const hot = attempts(10_000, 64);
for (const a of hot) cachedIc.check(a);
const cached = scenario('cached check (64 hot attempts)', 500_000, (i) => cachedIc.check(hot[i & 63]!));
const map = new Map(hot.map((a, i) => [JSON.stringify(a), i]));
const keys = [...map.keys()];
const bare = scenario('bare Map.get, precomputed key', 500_000, (i) => map.get(keys[i & 63]!));

measure([cached, bare]);

// Phase 2: uncached checks at every size and the linear scan, all alive and measured together, so
// every size runs in the same heap and only the index differs.
const notes = new Map<string, string>();
const uncached = new Map<number, Scenario>();
let linear: Scenario | undefined;
let heapPerRule = NaN;
for (const size of SIZES) {
  gc?.();
  const before = process.memoryUsage().heapUsed;
  const start = performance.now();
  const ic = await build(size, 0);
  const addMs = performance.now() - start;
  gc?.();
  if (size === SIZES[SIZES.length - 1]) heapPerRule = (process.memoryUsage().heapUsed - before) / size;
  const list = attempts(size, 20_000);
  const s = scenario(`uncached check, ${size} rules`, 50_000, (i) => ic.check(list[i % list.length]!));
  notes.set(s.name, `add ${((addMs * 1000) / size).toFixed(2)} µs/rule`);
  uncached.set(size, s);
  if (size === 100_000) {
    const matcher = new LinearMatcher(ic.list());
    const normalized = list.slice(0, 200).map(normalizeAttempt);
    linear = scenario(`linear scan, ${size} rules`, 20, (i) => matcher.candidates(normalized[i % normalized.length]!)[0]);
  }
}

measure(scenarios.filter((s) => s !== cached && s !== bare));

// Phase 3, last: the same checks with a subscriber on the check channel. Everything above ran with no
// subscriber ever attached (the state of a process that does not use the channels); a subscriber changes
// the channel object's shape, which would also change the feedback the earlier scenarios ran with.
let published = 0;
const subscriber = () => { published++; };
subscribe(channels.check, subscriber);
const list10k = attempts(10_000, 20_000);
const ic10k = await build(10_000, 0);
const subscribedCached = scenario('cached check, check channel subscribed', 500_000, (i) => cachedIc.check(hot[i & 63]!));
const subscribedUncached = scenario('uncached check, 10000 rules, subscribed', 50_000, (i) => ic10k.check(list10k[i % list10k.length]!));
measure([subscribedCached, subscribedUncached]);
unsubscribe(channels.check, subscriber);
if (published === 0) throw new Error('the subscriber saw no check');
notes.set(subscribedCached.name, `${(subscribedCached.best / cached.best).toFixed(2)}x the cached check without a subscriber`);
notes.set(subscribedUncached.name, `${(subscribedUncached.best / uncached.get(10_000)!.best).toFixed(2)}x without a subscriber`);

const fmt = (ns: number) => (ns >= 1000 ? `${(ns / 1000).toFixed(2)} µs` : `${ns.toFixed(1)} ns`);
const largest = SIZES[SIZES.length - 1]!;
const smallest = uncached.get(10)!.best;
notes.set(linear!.name, `index is ${(linear!.best / uncached.get(100_000)!.best).toFixed(0)}x faster`);
for (const [size, s] of uncached) if (size !== 10) notes.set(s.name, `${notes.get(s.name)}; ${(s.best / smallest).toFixed(2)}x the 10-rule check`);
notes.set(cached.name, `${(cached.best / bare.best).toFixed(2)}x bare Map.get`);
const width = Math.max(...scenarios.map((s) => s.name.length), 30);
for (const s of scenarios) console.log(`${s.name.padEnd(width)}  ${fmt(s.best).padStart(10)}  ${notes.get(s.name) ?? ''}`);
if (Number.isFinite(heapPerRule)) console.log(`${`heap per rule at ${largest} rules`.padEnd(width)}  ${`${heapPerRule.toFixed(0)} B`.padStart(10)}  ${gc ? '' : '(run with --expose-gc)'}`);

console.log();
const verdict = (ok: boolean, text: string) => console.log(`${ok ? 'MET   ' : 'MISSED'} ${text}`);
const linearRatio = linear!.best / uncached.get(100_000)!.best;
verdict(linearRatio >= 1000, `uncached check >= 1000x faster than the linear scan at 100k rules (${linearRatio.toFixed(0)}x)`);
const growth = uncached.get(largest)!.best / smallest;
verdict(growth <= 2, `uncached check at ${largest} rules within 2x of 10 rules (${growth.toFixed(2)}x)`);
verdict(cached.best / bare.best <= 3, `cached check within 3x of a bare Map.get (${(cached.best / bare.best).toFixed(2)}x)`);
if (largest === 1_000_000) verdict(heapPerRule <= 400, `heap per rule at 1M rules <= 400 B (${heapPerRule.toFixed(0)} B)`);
if (bench.sink < 0) console.log(bench.sink);
