// Model-based test of the persistence model: several interceptors on one shared store, each seeing it
// with its own timing (reports late or twice, reservations answered late), driven by random adds,
// removes, clears, checks and pauses. After every step: every instance converges to the store's rules
// (same ids, codes and revisions), and no cluster `times` budget is ever exceeded. Throughout: no
// instance ever installs a revision of a rule older than one it already had.
// Fixed seed in `npm test`; MODEL_RUNS=<n> MODEL_SEED=<s> runs it longer (docs/cluster.md has a figure).
import assert from 'node:assert/strict';
import { it } from 'node:test';
import fc from 'fast-check';
import { Interceptor, MemoryStore } from '../src/index.js';
import { type Timing, WrappedStore } from './helpers/wrapped-store.js';

const DOMAINS = ['a.example', 'b.example', 'c.example'];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Real {
  shared: MemoryStore;
  ics: Interceptor[];
  /** times of every revision added, by `<id>@<updated>` (the shared clock makes `updated` unique). */
  limits: Map<string, number | undefined>;
  forced: Map<string, number>;
  /** Problems seen by the monitors: an instance installing a revision older than one it had. */
  errors: unknown[];
}
type Model = Record<string, never>;
type Cmd = fc.AsyncCommand<Model, Real>;

const stored = async (real: Real) => JSON.stringify((await real.shared.load()).map((r) => [r.id, r.code, r.updated]).sort());
const view = (ic: Interceptor) => JSON.stringify(ic.list().map((r) => [r.id, r.code, new Date(r.updated).toISOString()]).sort());

/** After each step: every instance holds exactly the store's rules, within 2 s. */
async function converged(real: Real, step: string): Promise<void> {
  const deadline = Date.now() + 2000;
  for (;;) {
    const want = await stored(real);
    if (real.ics.every((ic) => view(ic) === want)) break;
    if (Date.now() > deadline) assert.fail(`after ${step}: instances ${real.ics.map(view).join(' | ')} differ from the store ${want}`);
    await sleep(2);
  }
  assert.deepEqual(real.errors, [], `after ${step}`);
}

const command = (name: string, run: (real: Real) => Promise<void>): Cmd => ({
  check: () => true,
  run: async (_model, real) => {
    await run(real);
    await converged(real, name);
  },
  toString: () => name,
});

const instance = fc.integer({ min: 0, max: 2 });
const domain = fc.constantFrom(...DOMAINS);
const commands = [
  fc.record({ i: instance, domain, code: fc.constantFrom(421, 450, 550), times: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }) })
    .map(({ i, domain, code, times }) => command(`add(${i}, ${domain}, ${code}, times ${times})`, async (real) => {
      const rule = await real.ics[i]!.add({ domain, code, times, cluster: true });
      real.limits.set(`${rule.id}@${rule.updated}`, times);
    })),
  fc.record({ i: instance, domain }).map(({ i, domain }) => command(`remove(${i}, ${domain})`, async (real) => {
    await real.ics[i]!.remove({ domain, cluster: true });
  })),
  instance.map((i) => command(`clear(${i})`, async (real) => { await real.ics[i]!.clear(); })),
  fc.record({ domain, times: fc.option(fc.integer({ min: 1, max: 2 }), { nil: undefined }) }).map(({ domain, times }) => command(`concurrent adds(${domain}, times ${times})`, async (real) => {
    const rules = await Promise.all(real.ics.map((ic, i) => ic.add({ domain, code: 450 + i, times, cluster: true })));
    for (const rule of rules) real.limits.set(`${rule.id}@${rule.updated}`, times);
  })),
  fc.record({ i: instance, domain, n: fc.integer({ min: 1, max: 4 }) }).map(({ i, domain, n }) => command(`check(${i}, ${domain}) x${n}`, async (real) => {
    for (let k = 0; k < n; k++) {
      const rule = real.ics[i]!.check({ domain })?.rule;
      if (!rule) continue;
      const key = `${rule.id}@${rule.updated}`;
      const forced = (real.forced.get(key) ?? 0) + 1;
      real.forced.set(key, forced);
      const limit = real.limits.get(key);
      if (limit !== undefined) assert.ok(forced <= limit, `${key} forced ${forced} times, more than its times ${limit}`);
      await sleep(0); // let reservations and reports interleave with the checks
    }
  })),
  fc.integer({ min: 1, max: 6 }).map((ms) => command(`pause(${ms} ms)`, async () => { await sleep(ms); })),
];

const timing: fc.Arbitrary<Timing> = fc.record({
  reportDelayMs: fc.integer({ min: 0, max: 3 }),
  twice: fc.boolean(),
  reserveReplyDelayMs: fc.integer({ min: 0, max: 3 }),
});

it('instances on one store converge after every step and never exceed a times budget', async () => {
  const numRuns = Number(process.env.MODEL_RUNS ?? 25);
  const seed = Number(process.env.MODEL_SEED ?? 18);
  await fc.assert(fc.asyncProperty(fc.tuple(timing, timing, timing), fc.commands(commands, { maxCommands: 20 }), async (timings, cmds) => {
    let clock = Date.parse('2026-01-01T00:00:00Z');
    const now = () => (clock += 1); // one clock for all: every write has a distinct `updated`
    const shared = new MemoryStore();
    const ics = timings.map((t) => new Interceptor({ clusterStore: new WrappedStore(shared, t), now }));
    const real: Real = { shared, ics, limits: new Map(), forced: new Map(), errors: [] };
    ics.forEach((ic, i) => {
      ic.on('error', (err) => real.errors.push(err));
      const newest = new Map<string, number>();
      const installed = (rule: { id: string; updated: number }) => {
        if (rule.updated < (newest.get(rule.id) ?? 0)) real.errors.push(`instance ${i} went back to an older revision of ${rule.id}`);
        newest.set(rule.id, Math.max(rule.updated, newest.get(rule.id) ?? 0));
      };
      ic.on('rule:added', installed).on('rule:updated', installed);
    });
    for (const ic of ics) await ic.ready();
    try {
      await fc.asyncModelRun(() => ({ model: {}, real }), cmds);
    } finally {
      await Promise.all(ics.map((ic) => ic.close()));
    }
  }), { numRuns, seed, endOnFailure: true });
});
