// Pipelined writes (src/write-pipeline.ts) against a model: random adds, removes and clears issued
// back to back or interleaved, on a store that applies each write in call order but answers late, out
// of order, or with a failure. After each round: the index equals the store and the model (every
// successful call applied in call order); events came in call order; and at the moment each call
// settled, the index showed its effect (the model after that call, or after a later one). No waits.
// Fixed seed in `npm test`; PIPELINE_RUNS=<n> PIPELINE_SEED=<s> runs it longer.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import fc from 'fast-check';
import { Interceptor, MemoryStore, type Rule, StoreUnavailableError } from '../src/index.js';
import { LatentStore, turns } from './helpers/latent-store.js';

const DOMAINS = ['a.example', 'b.example', 'c.example'];

type Op =
  | { kind: 'add'; domain: string; cluster: boolean; code: number }
  | { kind: 'remove'; domain: string; cluster: boolean }
  | { kind: 'clear'; scope: 'cluster' | 'instance' | undefined };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('add' as const), domain: fc.constantFrom(...DOMAINS), cluster: fc.boolean(), code: fc.constantFrom(421, 450, 550) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('remove' as const), domain: fc.constantFrom(...DOMAINS), cluster: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('clear' as const), scope: fc.constantFrom('cluster' as const, 'instance' as const, undefined) }) },
);
/** An op, and how many turns to wait before issuing the next one (0: back to back). */
const step = fc.record({ op, gap: fc.constantFrom(0, 0, 0, 1, 2) });
/** What becomes of each store write, in call order: the plans repeat when there are more writes. */
const plans = fc.array(fc.record({ fail: fc.integer({ min: 0, max: 4 }).map((n) => n === 0), turns: fc.integer({ min: 0, max: 4 }) }), { minLength: 1, maxLength: 30 });

type State = Map<string, { code: number; cluster: boolean }>;
const text = (state: State) => JSON.stringify([...state].map(([id, r]) => [id, r.code]).sort());
const indexText = (ic: Interceptor) => JSON.stringify(ic.list().map((r) => [r.id, r.code]).sort());

/** Replays the calls that succeeded, in call order: the state after each call, and the events each made. */
function replay(ic: Interceptor, ops: readonly Op[], ok: readonly boolean[]) {
  const states: State[] = [];
  const events: string[] = [];
  const befores: (number | undefined)[] = [];
  let state: State = new Map();
  ops.forEach((o, k) => {
    state = new Map(state);
    if (o.kind === 'clear') {
      const gone = [...state].filter(([, r]) => o.scope === undefined || r.cluster === (o.scope === 'cluster')).map(([id]) => id);
      if (ok[k]) for (const id of gone.sort()) { state.delete(id); events.push(`removed ${id} cleared`); }
    } else {
      const id = ic.idOf({ domain: o.domain, cluster: o.cluster });
      befores[k] = state.get(id)?.code;
      if (ok[k] && o.kind === 'add') {
        events.push(`${state.has(id) ? 'updated' : 'added'} ${id} ${o.code}`);
        state.set(id, { code: o.code, cluster: o.cluster });
      } else if (ok[k] && state.delete(id)) {
        events.push(`removed ${id} deleted`);
      }
    }
    states.push(state);
  });
  return { states, events, befores };
}

/** Sorts each run of `cleared` removals: a clear removes its rules in index order. */
function normalise(events: readonly string[]): string[] {
  const out: string[] = [];
  let run: string[] = [];
  for (const e of [...events, '']) {
    if (e.endsWith(' cleared')) { run.push(e); continue; }
    out.push(...run.sort());
    run = [];
    if (e !== '') out.push(e);
  }
  return out;
}

it('pipelined mutations equal one-at-a-time ones: index = store = model, events in call order, each effect visible as it settles', async () => {
  const numRuns = Number(process.env.PIPELINE_RUNS ?? 300);
  const seed = Number(process.env.PIPELINE_SEED ?? 14);
  await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 16 }), plans, async (steps, writePlans) => {
    const shared = new MemoryStore();
    // No cluster store: both scopes share one store, so scoped clears delete ids instead of clearing it.
    const store = new LatentStore(shared, ({ n }) => {
      const plan = writePlans[n % writePlans.length]!;
      return { fail: plan.fail, answer: turns(plan.turns) };
    });
    const ic = new Interceptor({ store });
    const events: string[] = [];
    ic.on('rule:added', (r) => events.push(`added ${r.id} ${r.code}`))
      .on('rule:updated', (r) => events.push(`updated ${r.id} ${r.code}`))
      .on('rule:removed', (r, reason) => events.push(`removed ${r.id} ${reason}`));
    await ic.ready();
    const ops = steps.map((s) => s.op);
    /** Per call: the index the moment it settled, and its outcome. */
    const seen: { index: string; ok: boolean; value: unknown }[] = [];
    const calls: Promise<void>[] = [];
    for (const [k, { op: o, gap }] of steps.entries()) {
      const call: Promise<Rule | number | undefined> = o.kind === 'add' ? ic.add({ domain: o.domain, cluster: o.cluster, code: o.code })
        : o.kind === 'remove' ? ic.remove({ domain: o.domain, cluster: o.cluster }) : ic.clear(o.scope);
      calls.push(call.then((value) => { seen[k] = { index: indexText(ic), ok: true, value }; }, (err: unknown) => {
        assert.ok(err instanceof StoreUnavailableError, `call ${k} rejected with ${String(err)}`);
        seen[k] = { index: indexText(ic), ok: false, value: err };
      }));
      if (gap > 0) await turns(gap);
    }
    await Promise.all(calls);
    const { states, events: expected, befores } = replay(ic, ops, seen.map((s) => s.ok));
    const final = text(states.at(-1)!);
    assert.equal(indexText(ic), final, 'the index after every call settled is the model');
    assert.equal(JSON.stringify((await shared.load()).map((r) => [r.id, r.code]).sort()), final, 'the store is the model');
    const created = (rules: { id: string; created: string; updated: string }[]) => JSON.stringify(rules.map((r) => [r.id, r.created, r.updated]).sort());
    assert.equal(created(ic.list().map((r) => r.toJSON())), created(await shared.load()), 'index and store hold the same revisions');
    assert.deepEqual(normalise(events), normalise(expected), 'events in call order');
    seen.forEach((s, k) => {
      const later = states.slice(k).map(text);
      assert.ok(later.includes(s.index), `when call ${k} (${JSON.stringify(ops[k])}) settled the index ${s.index} was none of the states from it on: ${later.join(' ')}`);
      const o = ops[k]!;
      if (o.kind === 'remove' && s.ok) assert.equal((s.value as Rule | undefined)?.code, befores[k], `remove ${k} resolves to the rule it removed`);
    });
    await ic.close();
  }), { numRuns, seed });
});
