// The cost counters put on check(): a forced check of a rule whose store saves counters (tallied in
// memory, saved in batches) against the same check with a store that does not save them, and a bare
// Map.get, all in the same run. `npm run bench:counters`. Prints ns/op and ratios.
import { hitAt, ruleAt } from './workload.js';
import { Interceptor, MemoryStore, type RuleJSON, type RuleStore } from '../src/index.js';

const RULES = 10_000;
const ROUNDS = 30;
const ITERATIONS = 200_000;
let sink = 0;

/** A MemoryStore view without `saveCounters`: the engine tallies nothing for its rules. */
function withoutCounters(inner: MemoryStore): RuleStore {
  return {
    load: () => inner.load(),
    put: (rule: RuleJSON) => inner.put(rule),
    delete: (ids) => inner.delete(ids),
    clear: () => inner.clear(),
    close: () => inner.close(),
  };
}

async function build(store: RuleStore | undefined): Promise<Interceptor> {
  const ic = new Interceptor(store ? { store, counterFlushMs: 1000 } : {});
  await ic.ready();
  for (let i = 0; i < RULES; i++) await ic.add({ ...ruleAt(i), cluster: false });
  return ic;
}

const hot = Array.from({ length: 64 }, (_, k) => hitAt((k * 157) % RULES));
const cases = [
  { name: 'check, store without saveCounters (baseline)', ic: await build(withoutCounters(new MemoryStore())), best: Infinity },
  { name: 'check, store with saveCounters (tallied)', ic: await build(new MemoryStore()), best: Infinity },
  { name: 'check, no store', ic: await build(undefined), best: Infinity },
];
for (const c of cases) for (const a of hot) if (c.ic.check(a) === undefined) throw new Error(`${c.name}: a hit attempt forced nothing`);
const map = new Map(hot.map((a, i) => [JSON.stringify(a), i]));
const keys = [...map.keys()];
const bare = { name: 'bare Map.get, precomputed key', best: Infinity };

for (let round = 0; round < ROUNDS; round++) {
  for (const c of cases) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < ITERATIONS; i++) if (c.ic.check(hot[i & 63]!) !== undefined) sink++;
    c.best = Math.min(c.best, Number(process.hrtime.bigint() - start) / ITERATIONS);
  }
  const start = process.hrtime.bigint();
  for (let i = 0; i < ITERATIONS; i++) if (map.get(keys[i & 63]!) !== undefined) sink++;
  bare.best = Math.min(bare.best, Number(process.hrtime.bigint() - start) / ITERATIONS);
}
const baseline = cases[0]!.best;
console.log(`node ${process.version}; ${RULES} instance rules, 64 hot hit attempts (cached); ${ROUNDS} interleaved rounds, best kept`);
for (const c of [...cases, bare]) console.log(`${c.name.padEnd(48)} ${c.best.toFixed(1).padStart(7)} ns   ${(c.best / baseline).toFixed(2)}x baseline`);
for (const c of cases) await c.ic.close();
if (sink === 0) console.log('');
