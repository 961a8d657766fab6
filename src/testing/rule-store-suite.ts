/**
 * `testRuleStore`: the conformance suite every `RuleStore` must pass, ours and third parties'. It
 * registers its cases with node:test's `it` (built into Node), or with the `test` function you pass
 * (Vitest's `it`, Jest's `test`), so it depends on no test runner package.
 */
import assert from 'node:assert/strict';
import { it as nodeTest } from 'node:test';
import { Interceptor, type RuleJSON, type RuleStore, type StoreChange } from '../index.js';
import { counterCases } from './rule-store-counters.js';
import { byId, ruleJSON, settle } from './store-fixtures.js';

/** Options of {@link testRuleStore}. */
export interface RuleStoreSuiteOptions {
  /** Registers one test case. @default node:test's `it` */
  test?: (name: string, fn: () => Promise<void>) => void;
  /** A second store over the same data as `store` (a reopened file, another Redis connection), for durability and change tests. */
  reopen?: (store: RuleStore) => RuleStore | Promise<RuleStore>;
}

/** `store` as an instance would see it if its reports came `delayMs` late and twice: an order the contract allows. */
function lateAndTwice(store: RuleStore, delayMs: number): RuleStore {
  const view: RuleStore = {
    load: () => store.load(),
    put: (rule) => store.put(rule),
    delete: (ids) => store.delete(ids),
    clear: () => store.clear(),
    close: async () => undefined,
  };
  if (store.reserve) view.reserve = (...args) => store.reserve!(...args);
  if (store.release) view.release = (...args) => store.release!(...args);
  if (store.watch) {
    view.watch = (listener, onError) => store.watch!((change) => {
      setTimeout(() => { listener(change); listener(change); }, delayMs);
    }, onError);
  }
  return view;
}

/**
 * Registers the conformance cases of a `RuleStore`. `factory` returns a new, empty store.
 *
 * @example
 * ```ts
 * testRuleStore(() => new FileStore(tempFile()), { reopen: (s) => new FileStore((s as FileStore).path) })
 * testRuleStore(() => new MyStore(), { test: it }) // Vitest or Jest
 * ```
 */
export function testRuleStore(factory: () => RuleStore | Promise<RuleStore>, options: RuleStoreSuiteOptions = {}): void {
  const { test = nodeTest as unknown as NonNullable<RuleStoreSuiteOptions['test']>, reopen } = options;
  const create = factory;
  const withStore = (fn: (store: RuleStore) => Promise<void>) => async () => {
    const store = await create();
    try {
      await fn(store);
    } finally {
      await store.close();
    }
  };

  test('an empty store loads no rules', withStore(async (store) => {
    assert.deepEqual(await store.load(), []);
  }));

  test('put stores a rule exactly; putting its id again replaces it', withStore(async (store) => {
    const first = await ruleJSON({ domain: 'gmail.com', code: 421, tag: '__proto__', times: 3 });
    await store.put(first);
    assert.deepEqual(await store.load(), [first]);
    const second = { ...(await ruleJSON({ domain: 'gmail.com', code: 550, tag: '__proto__', description: 'gone' })), id: first.id };
    await store.put(second);
    assert.deepEqual(await store.load(), [second]);
  }));

  test('delete removes rules by id and ignores absent ids', withStore(async (store) => {
    const a = await ruleJSON({ domain: 'a.example', code: 421 });
    const b = await ruleJSON({ domain: 'b.example', code: 421 });
    const c = await ruleJSON({ domain: 'c.example', code: 421, cluster: true });
    for (const rule of [a, b, c]) await store.put(rule);
    await store.delete([a.id, 'no-such-id', c.id]);
    assert.deepEqual(await store.load(), [b]);
  }));

  test('clear removes every rule', withStore(async (store) => {
    await store.put(await ruleJSON({ domain: 'a.example', code: 421 }));
    await store.put(await ruleJSON({ ip: '192.0.2.0/24', code: 550 }));
    await store.clear();
    assert.deepEqual(await store.load(), []);
  }));

  test('concurrent writes all land', withStore(async (store) => {
    const rules = await Promise.all(Array.from({ length: 20 }, (_, i) => ruleJSON({ domain: `d${i}.example`, code: 421 })));
    await Promise.all(rules.map((r) => store.put(r)));
    assert.deepEqual(byId(await store.load()), byId(rules));
  }));

  test('an interceptor persists through the store', withStore(async (store) => {
    const ic = new Interceptor({ store });
    await ic.ready();
    const kept = await ic.add({ domain: 'gmail.com', code: 421 });
    const gone = await ic.add({ domain: 'yahoo.com', code: 550 });
    await ic.remove({ domain: 'yahoo.com' });
    await ic.close();
    assert.deepEqual((await store.load()).map((r) => r.id), [kept.id]);
    assert.ok(!(await store.load()).some((r) => r.id === gone.id));
  }));

  if (reopen) {
    test('a reopened store has every acknowledged change', withStore(async (store) => {
      const a = await ruleJSON({ domain: 'a.example', code: 421 });
      const b = await ruleJSON({ domain: 'b.example', code: 421 });
      await store.put(a);
      await store.put(b);
      await store.delete([a.id]);
      const again = await reopen(store);
      try {
        assert.deepEqual(await again.load(), [b]);
      } finally {
        await again.close();
      }
    }));
  }

  test('watchers see puts and deletes (as changes or as a reset)', withStore(async (store) => {
    if (!store.watch) return;
    const other = reopen ? await reopen(store) : store;
    // What a watcher knows, built only from the changes it is told.
    const view = new Map<string, RuleJSON>();
    const unwatch = other.watch!((change) => {
      if (change.type === 'put') view.set(change.rule.id, change.rule);
      else if (change.type === 'delete') view.delete(change.id);
      else { view.clear(); for (const rule of change.rules) view.set(rule.id, rule); }
    });
    try {
      await other.load(); // a load after watch resolves once the watcher follows every later change
      const rule = await ruleJSON({ domain: 'watched.example', code: 421 });
      await store.put(rule);
      await settle(() => view.get(rule.id)?.updated === rule.updated, 'the put');
      await store.delete([rule.id]);
      await settle(() => !view.has(rule.id), 'the delete');
    } finally {
      unwatch();
      if (other !== store) await other.close();
    }
  }));

  test('a change right after ready() reaches every instance', async () => {
    // The windows (a store not yet following when ready() resolves, a reload racing the change) are
    // short: several rounds give them a chance to show.
    for (let round = 0; round < 30; round++) await changeRightAfterReady();
  });

  async function changeRightAfterReady(): Promise<void> {
    const first = await create();
    if (!first.watch) return void (await first.close());
    // Three instances on the same data (reopened stores, or one shared store), each ready in turn, and a
    // cluster rule added the moment the last one is: every instance must install it.
    const stores = [first, ...(reopen ? [await reopen(first), await reopen(first)] : [])];
    const instances: Interceptor[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        instances.push(new Interceptor({ clusterStore: stores[i] ?? first }));
        await instances[i]!.ready();
      }
      const removed: string[] = [];
      for (const ic of instances) ic.on('rule:removed', (r, reason) => removed.push(`${r.id} ${reason}`));
      const rule = await instances[0]!.add({ domain: 'hotmail.com', code: 521, cluster: true });
      await settle(() => instances.every((ic) => ic.get(rule.id)?.code === 521), 'the rule on every instance');
      assert.deepEqual(removed, [], 'no instance was rolled back to an older set');
    } finally {
      await Promise.all(instances.map((ic) => ic.close()));
      await Promise.all(stores.map((s) => s.close()));
    }
  }

  test('reports that come late and twice never bring back a removed or older rule', async () => {
    const first = await create();
    if (!first.watch) return void (await first.close());
    const second = reopen ? await reopen(first) : first;
    const [a, b] = [new Interceptor({ clusterStore: lateAndTwice(first, 5) }), new Interceptor({ clusterStore: lateAndTwice(second, 5) })];
    try {
      await a.ready();
      await b.ready();
      await a.add({ domain: 'gmail.com', code: 421, cluster: true });
      await a.remove({ domain: 'gmail.com', cluster: true });
      const last = await a.add({ domain: 'gmail.com', code: 550, cluster: true });
      const moves: string[] = [];
      a.on('rule:added', (r) => moves.push(`added ${r.code}`)).on('rule:updated', (r) => moves.push(`updated ${r.code}`)).on('rule:removed', (r) => moves.push(`removed ${r.code}`));
      await settle(() => b.get(last.id)?.updated === last.updated, 'the last add on the other instance');
      await new Promise((resolve) => setTimeout(resolve, 30)); // every late report has arrived at a
      assert.deepEqual(moves, [], 'the writer\'s own reports never move its rule set');
      assert.equal(a.get(last.id)?.code, 550);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await first.close();
      if (second !== first) await second.close();
    }
  });

  test('after one instance clears, an identical add from another reaches it', async () => {
    const first = await create();
    if (!first.watch) return void (await first.close());
    const second = reopen ? await reopen(first) : first;
    const now = () => Date.parse('2026-01-01T00:00:00Z'); // both instances write the very same JSON
    const [a, b] = [new Interceptor({ clusterStore: first, now }), new Interceptor({ clusterStore: second, now })];
    try {
      await a.ready();
      await b.ready();
      const rule = await a.add({ domain: 'gmail.com', code: 421, cluster: true });
      await settle(() => b.get(rule.id) !== undefined, 'the add on the other instance');
      await a.clear();
      await settle(() => b.size === 0, 'the clear on the other instance');
      await b.add({ domain: 'gmail.com', code: 421, cluster: true });
      await settle(() => a.get(rule.id)?.code === 421, 'the identical add after the clear');
    } finally {
      await Promise.all([a.close(), b.close()]);
      await first.close();
      if (second !== first) await second.close();
    }
  });

  test('a new revision of a rule starts a new budget; the old revision\'s grants and uses never count against it', withStore(async (store) => {
    if (!store.reserve) return;
    const old = { ...(await ruleJSON({ domain: 'budget.example', code: 421, times: 1, cluster: true })), revision: 'a.1' };
    await store.put(old);
    assert.equal(await store.reserve(old.id, 1, 0, 'a.1'), 1);
    await store.put({ ...old, code: 450, revision: 'b.1' });
    await store.release?.(old.id, 1, 'a.1'); // the old grant comes back: not into the new budget
    assert.equal(await store.reserve(old.id, 1, 0, 'b.1'), 1);
    assert.equal(await store.reserve(old.id, 1, 0, 'b.1'), 0, 'times: 1 grants once');
    assert.equal(await store.reserve(old.id, 0, 1, 'a.1'), 0); // a use of the old revision: not counted
    assert.equal((await store.load()).length, 1, 'the new revision is not used up by the old one\'s use');
  }));

  test('reservations never grant more than the rule\'s times, and recorded uses exhaust it', withStore(async (store) => {
    if (!store.reserve) return;
    const rule = { ...(await ruleJSON({ domain: 'budget.example', code: 421, times: 5, cluster: true })), revision: 'r1' };
    await store.put(rule);
    const seen: StoreChange[] = [];
    const unwatch = store.watch?.((change) => seen.push(change));
    try {
      await store.load(); // a load after watch resolves once the watcher follows every later change
      const grants = await Promise.all(Array.from({ length: 12 }, () => store.reserve!(rule.id, 1, 0, 'r1')));
      assert.equal(grants.reduce((a, b) => a + b, 0), 5);
      assert.equal(await store.reserve(rule.id, 3, 0, 'r1'), 0);
      if (store.release) {
        await store.release(rule.id, 2, 'r1');
        await store.release(rule.id, 2, 'r0'); // another revision's: ignored
        assert.equal(await store.reserve(rule.id, 5, 0, 'r1'), 2);
      }
      assert.equal(await store.reserve(rule.id, 1, 4, 'r1'), 0);
      assert.equal(await store.reserve(rule.id, 1, 1, 'r0'), 0, 'uses of another revision are not counted');
      assert.equal((await store.load()).length, 1, 'not used up yet');
      assert.equal(await store.reserve(rule.id, 1, 1, 'r1'), 0);
      assert.deepEqual(await store.load(), [], 'removed once every application was used');
      if (unwatch) await settle(() => seen.some((c) => c.type === 'delete' && c.id === rule.id && c.reason === 'exhausted'), 'the exhausted delete');
    } finally {
      unwatch?.();
    }
  }));
  counterCases(test, create, reopen);
}
