/**
 * The counter cases of the `RuleStore` conformance suite (`saveCounters`): registered by
 * `testRuleStore` for every store; a store without `saveCounters` passes them trivially.
 */
import assert from 'node:assert/strict';
import type { RuleStore, StoreChange } from '../index.js';
import type { RuleStoreSuiteOptions } from './rule-store-suite.js';
import { byId, ruleJSON, settle } from './store-fixtures.js';

type CountingStore = RuleStore & Required<Pick<RuleStore, 'saveCounters'>>;

/** Registers the counter cases with `test`. */
export function counterCases(test: NonNullable<RuleStoreSuiteOptions['test']>, create: () => RuleStore | Promise<RuleStore>, reopen: RuleStoreSuiteOptions['reopen']): void {
  const withCounters = (fn: (store: CountingStore) => Promise<void>) => async () => {
    const store = await create();
    try {
      if (store.saveCounters) await fn(store as CountingStore);
    } finally {
      await store.close();
    }
  };
  const stored = async (store: RuleStore, id: string) => (await store.load()).find((r) => r.id === id);

  test('saved counters add hits and take used applications from times; a reload shows them', withCounters(async (store) => {
    const limited = { ...(await ruleJSON({ domain: 'limited.example', code: 421, times: 5 })), revision: 'r1' };
    const open = { ...(await ruleJSON({ domain: 'open.example', code: 550 })), revision: 'r2' };
    await store.put(limited);
    await store.put(open);
    await store.saveCounters([{ id: limited.id, revision: 'r1', hits: 2, used: 2 }, { id: open.id, revision: 'r2', hits: 3, used: 0 }]);
    await store.saveCounters([{ id: limited.id, revision: 'r1', hits: 1, used: 1 }]);
    assert.deepEqual(await stored(store, limited.id), { ...limited, hits: 3, times: 2 });
    assert.deepEqual(await stored(store, open.id), { ...open, hits: 3 });
    if (!reopen) return;
    const again = await reopen(store);
    try {
      assert.deepEqual(byId(await again.load()), byId([{ ...limited, hits: 3, times: 2 }, { ...open, hits: 3 }]));
    } finally {
      await again.close();
    }
  }));

  test('counters of another revision or of an absent rule are ignored; a new revision restarts times and keeps the hits it carries', withCounters(async (store) => {
    const old = { ...(await ruleJSON({ domain: 'revised.example', code: 421, times: 4 })), revision: 'a.1' };
    await store.put(old);
    await store.saveCounters([{ id: old.id, revision: 'a.1', hits: 2, used: 2 }]);
    const next = { ...old, code: 450, hits: 2, times: 4, revision: 'b.1' };
    await store.put(next);
    await store.saveCounters([{ id: old.id, revision: 'a.1', hits: 5, used: 3 }, { id: 'no-such-id', revision: 'a.1', hits: 1, used: 1 }]);
    assert.deepEqual(await store.load(), [next], 'the old revision\'s counts do not touch the new one; no rule is made up');
    await store.saveCounters([{ id: old.id, revision: 'b.1', hits: 1, used: 1 }]);
    assert.deepEqual(await store.load(), [{ ...next, hits: 3, times: 3 }]);
  }));

  test('counter saves take their place among writes in call order, none awaited before the next is sent', withCounters(async (store) => {
    // The engine sends an update's write right after the old revision's counts, and saves counts while
    // writes are in flight: each save counts for the revision stored when it comes in call order.
    const old = { ...(await ruleJSON({ domain: 'ordered.example', code: 421, times: 5 })), revision: 'a.1' };
    await store.put(old);
    const next = { ...old, code: 450, hits: 2, times: 5, revision: 'b.1' };
    const fresh = { ...old, code: 550, hits: 0, times: 5, revision: 'c.1' };
    await Promise.all([
      store.saveCounters([{ id: old.id, revision: 'a.1', hits: 2, used: 1 }]),
      store.put(next),
      store.saveCounters([{ id: old.id, revision: 'a.1', hits: 3, used: 3 }]), // after the put: ignored
      store.saveCounters([{ id: old.id, revision: 'b.1', hits: 1, used: 1 }]),
    ]);
    assert.deepEqual(await stored(store, old.id), { ...next, hits: 3, times: 4 });
    await Promise.all([
      store.delete([old.id]),
      store.saveCounters([{ id: old.id, revision: 'b.1', hits: 4, used: 0 }]), // after the delete: ignored
      store.put(fresh),
      store.saveCounters([{ id: old.id, revision: 'c.1', hits: 1, used: 1 }]),
    ]);
    assert.deepEqual(await stored(store, old.id), { ...fresh, hits: 1, times: 4 }, 'nothing of the removed rule comes back');
  }));

  test('a rule whose times reach 0 through saved counters is removed (reported as exhausted)', withCounters(async (store) => {
    const rule = { ...(await ruleJSON({ domain: 'used-up.example', code: 421, times: 2 })), revision: 'r1' };
    const kept = { ...(await ruleJSON({ domain: 'kept.example', code: 421 })), revision: 'r1' };
    await store.put(rule);
    await store.put(kept);
    const seen: StoreChange[] = [];
    const unwatch = store.watch?.((change) => seen.push(change));
    try {
      await store.load(); // a load after watch resolves once the watcher follows every later change
      await store.saveCounters([{ id: rule.id, revision: 'r1', hits: 2, used: 2 }, { id: kept.id, revision: 'r1', hits: 2, used: 0 }]);
      assert.deepEqual(await store.load(), [{ ...kept, hits: 2 }]);
      if (unwatch) await settle(() => seen.some((c) => c.type === 'delete' && c.id === rule.id && c.reason === 'exhausted'), 'the exhausted delete');
    } finally {
      unwatch?.();
    }
  }));
}
