// FileStore keeps where each live record is in the journal, not the rules: every load and every
// compaction reads them back. Checked against a model of the replay rules (docs/stores.md).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { type CounterDelta, type RuleJSON, withCounters } from '../../src/index.js';
import { FileStore } from '../../src/stores/file.js';

const dir = mkdtempSync(join(tmpdir(), 'smtp-intercept-live-'));
let n = 0;
const fresh = () => join(dir, `rules-${++n}.json`);
after(() => rmSync(dir, { recursive: true, force: true }));

let revisions = 0;
const rule = (id: string, times?: number): RuleJSON => ({
  id, domain: `${id}.example`, code: 421, cluster: false, created: '2026-01-01T00:00:00.000Z', updated: '2026-01-01T00:00:00.000Z',
  hits: 0, revision: `r.${++revisions}`, ...(times === undefined ? {} : { times }), description: 'é ✓ multi-byte text',
});

/** The replay rules of docs/stores.md on a `Map`: what every load must give. */
class Model {
  readonly rules = new Map<string, RuleJSON>();
  /** A stored rule moves to the end (the order of the records in a compacted file). */
  put(r: RuleJSON): void {
    this.rules.delete(r.id);
    this.rules.set(r.id, r);
  }
  delete(ids: readonly string[]): void {
    for (const id of ids) this.rules.delete(id);
  }
  counters(deltas: readonly CounterDelta[]): void {
    for (const delta of deltas) {
      const stored = this.rules.get(delta.id);
      if (!stored || (stored.revision ?? '') !== delta.revision) continue;
      const counted = withCounters(stored, delta);
      if (counted) this.rules.set(delta.id, counted);
      else this.rules.delete(delta.id);
    }
  }
}

const POOL = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
type Op =
  | { put: string; times?: number }
  | { delete: string[] }
  | { clear: true }
  | { counters: { id: string; stale: boolean; hits: number; used: number }[] };
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ put: fc.constantFrom(...POOL), times: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }) }, { requiredKeys: ['put'] }) },
  { weight: 2, arbitrary: fc.record({ delete: fc.subarray(POOL, { maxLength: 3 }) }) },
  { weight: 1, arbitrary: fc.constant({ clear: true as const }) },
  { weight: 4, arbitrary: fc.record({ counters: fc.array(fc.record({ id: fc.constantFrom(...POOL), stale: fc.boolean(), hits: fc.nat(3), used: fc.nat(2) }), { minLength: 1, maxLength: 4 }) }) },
);

/** Issues one operation on both; returns the store's promise. */
function issue(store: FileStore, model: Model, o: Op): Promise<void> {
  if ('put' in o) {
    const r = rule(o.put, o.times);
    model.put(r);
    return store.put(r);
  }
  if ('delete' in o) {
    model.delete(o.delete);
    return store.delete(o.delete);
  }
  if ('clear' in o) {
    model.rules.clear();
    return store.clear();
  }
  const deltas = o.counters.map(({ id, stale, hits, used }) => ({ id, revision: stale ? 'r.0' : model.rules.get(id)?.revision ?? '', hits, used }));
  model.counters(deltas);
  return store.saveCounters(deltas);
}

describe('FileStore live set', () => {
  it('every load, in the store that wrote and after reopening, is the model\'s set, through compactions while writes continue', async () => {
    await fc.assert(fc.asyncProperty(fc.array(fc.array(op, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 40 }), fc.nat(3), async (batches, reopenEvery) => {
      const path = fresh();
      const model = new Model();
      let store = new FileStore(path, { compactionSlack: 0 });
      try {
        for (const [i, batch] of batches.entries()) {
          // Concurrent calls: they share writes, and a compaction's tail copy sees several of them.
          await Promise.all(batch.map((o) => issue(store, model, o)));
          assert.deepEqual(await store.load(), [...model.rules.values()], `after batch ${i}`);
          if (reopenEvery > 0 && i % reopenEvery === 0) {
            await store.close();
            store = new FileStore(path, { compactionSlack: 0 });
            assert.deepEqual(await store.load(), [...model.rules.values()], `reopened after batch ${i}`);
          }
        }
      } finally {
        await store.close();
      }
      assert.deepEqual(await new FileStore(path).load(), [...model.rules.values()], 'reopened at the end');
    }), { numRuns: 60, seed: 14 });
  });

  it('a compaction after counters records and updates writes exactly the live set, counters folded in', async () => {
    const path = fresh();
    const model = new Model();
    const store = new FileStore(path, { compactionSlack: 0 });
    for (const id of POOL) await issue(store, model, { put: id, times: id < 'e' ? 3 : undefined });
    await issue(store, model, { counters: [{ id: 'a', stale: false, hits: 2, used: 1 }, { id: 'f', stale: false, hits: 4, used: 0 }] });
    await issue(store, model, { counters: [{ id: 'b', stale: false, hits: 3, used: 3 }, { id: 'c', stale: true, hits: 9, used: 9 }] }); // b used up, c stale
    await issue(store, model, { put: 'g' }); // an update: its counters start afresh
    await issue(store, model, { delete: ['h'] });
    const before = statSync(path).ino;
    // Enough records past twice the live set make the next write start a compaction.
    for (let i = 0; statSync(path).ino === before; i++) {
      assert.ok(i < 200, 'the journal was compacted');
      await issue(store, model, { counters: [{ id: 'f', stale: false, hits: 1, used: 0 }] });
    }
    await store.close();
    const records = readFileSync(path, 'utf8').split('\n').slice(1, -1).map((line) => JSON.parse(line) as { put?: RuleJSON });
    const puts = records.flatMap((record) => record.put ? [record.put] : []);
    assert.deepEqual(puts.map((r) => r.id), [...model.rules.keys()], 'one put per live rule');
    // f's counters records of the loop after the compaction's mark follow the snapshot; every other rule is final in it.
    assert.deepEqual(puts.filter((r) => r.id !== 'f'), [...model.rules.values()].filter((r) => r.id !== 'f'));
    assert.deepEqual(puts.find((r) => r.id === 'a'), { ...model.rules.get('a'), hits: 2, times: 2 }, 'counters folded into the record');
    assert.deepEqual(await new FileStore(path).load(), [...model.rules.values()]);
  });
});
