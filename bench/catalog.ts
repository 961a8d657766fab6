// The listing index (`RuleCatalog`) alone at 1,000,000 rules: the bulk load of a start-up snapshot
// (`setMany`) against a plain `Array.prototype.sort` of the same ids in the same run, the cost of one
// insert and one delete in a catalog of 1,000 rules and in one of 1,000,000 (same process, same heap),
// and the heap the index costs per rule. Times are CPU time. `npm run bench:catalog` (`-- --quick` for
// 100,000 rules).
import { parseRuleInput } from '../src/rule-input.js';
import { RuleCatalog } from '../src/rule-catalog.js';
import { ruleId } from '../src/rule-id.js';
import { Rule } from '../src/rule.js';
import { ruleAt } from './workload.js';
import { heapMeter } from './heap.js';

const SIZE = process.argv.includes('--quick') ? 100_000 : 1_000_000;
const SMALL = 1_000;
const BATCH = 1_000;
const heap = heapMeter('bench:catalog');
const NOW = Date.now();

/** The workload's rule `i` as the engine holds it (validated, with its id). */
function ruleObject(i: number): Rule {
  const spec = parseRuleInput(ruleAt(i), NOW);
  return new Rule(spec, ruleId(spec), NOW, NOW, 0);
}
const rules = Array.from({ length: SIZE }, (_, i) => ruleObject(i));
const extra = Array.from({ length: 20 * BATCH }, (_, i) => ruleObject(SIZE + i));
const ids = rules.map((r) => r.id);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
// CPU time of the process (milliseconds): on a shared machine it moves far less with other load than wall time.
const time = (f: () => void) => {
  const start = process.cpuUsage();
  f();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
};

/** Every rule of `catalog`, walked page by page: it must hold exactly `expected` rules, in id order. */
function verify(catalog: RuleCatalog, expected: number): void {
  let n = 0;
  let last: string | undefined;
  for (;;) {
    const page = catalog.select([], last, 1000, () => true);
    for (const rule of page) if (last !== undefined && rule.id <= last) throw new Error('the catalog is out of id order');
    n += page.length;
    if (page.length < 1000) break;
    last = page.at(-1)!.id;
  }
  if (n !== expected) throw new Error(`the catalog lists ${n} rules, expected ${expected}`);
}

// Start-up: setMany of every rule into an empty catalog, interleaved with the baseline sort.
const sortMs: number[] = [];
const setManyMs: number[] = [];
let loaded: RuleCatalog | undefined;
for (let round = 0; round < 5; round++) {
  await heap();
  sortMs.push(time(() => ids.slice().sort()));
  await heap();
  const catalog = new RuleCatalog();
  setManyMs.push(time(() => catalog.setMany(rules)));
  loaded = catalog;
}
verify(loaded!, SIZE);

// Heap per rule, as loaded at start-up (setMany) and as filled by one `set` per rule.
loaded = undefined;
let before = await heap();
loaded = new RuleCatalog();
loaded.setMany(rules);
const bulkBytes = ((await heap()) - before) / SIZE;
let grown: RuleCatalog | undefined = new RuleCatalog();
before = await heap();
for (const rule of rules) grown.set(rule, undefined);
const grownBytes = ((await heap()) - before) / SIZE;
verify(grown, SIZE);
grown = undefined;

// One insert and one delete at 1,000 and at SIZE rules: batches of BATCH new rules set then deleted,
// alternating between the two catalogs, the median batch of each.
const small = new RuleCatalog();
small.setMany(rules.slice(0, SMALL));
const catalogs = [small, loaded];
const setUs: number[][] = [[], []];
const deleteUs: number[][] = [[], []];
for (let round = 0; round < 40; round++) {
  const batch = extra.slice((round % 20) * BATCH, (round % 20 + 1) * BATCH);
  for (const c of round % 2 === 0 ? [0, 1] : [1, 0]) {
    const catalog = catalogs[c]!;
    setUs[c]!.push((time(() => { for (const rule of batch) catalog.set(rule, undefined); }) * 1000) / BATCH);
    deleteUs[c]!.push((time(() => { for (const rule of batch) catalog.delete(rule); }) * 1000) / BATCH);
  }
}
verify(small, SMALL);
verify(loaded, SIZE);

const n = SIZE.toLocaleString('en');
console.log(`node ${process.version}; ${n} workload rules; CPU time; shared machine: compare the ratios of the same run`);
console.log(`setMany of ${n} rules (start-up):       fastest ${Math.min(...setManyMs).toFixed(0)} ms, median ${median(setManyMs).toFixed(0)} ms of 5`);
console.log(`baseline: Array.prototype.sort of the ids:  fastest ${Math.min(...sortMs).toFixed(0)} ms, median ${median(sortMs).toFixed(0)} ms`);
console.log(`setMany / sort of the ids: ${(median(setManyMs) / median(sortMs)).toFixed(2)}x (medians)`);
for (const [name, us] of [['set (insert)', setUs], ['delete', deleteUs]] as const) {
  const [at1k, atN] = [median(us[0]!), median(us[1]!)];
  console.log(`${name.padEnd(13)} at ${SMALL.toLocaleString('en')} rules ${at1k.toFixed(2)} µs, at ${n} rules ${atN.toFixed(2)} µs: ${(atN / at1k).toFixed(2)}x (median of 20 batches of ${BATCH})`);
}
console.log(`heap per rule: ${bulkBytes.toFixed(1)} B loaded by setMany, ${grownBytes.toFixed(1)} B filled by one set per rule`);
