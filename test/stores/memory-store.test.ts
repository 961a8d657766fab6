import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Interceptor, MemoryStore, type RuleJSON, type RuleStore, StoreUnavailableError } from '../../src/index.js';
import { testRuleStore } from '../../src/testing/index.js';
import { FailingStore } from '../helpers/failing-store.js';

describe('MemoryStore conformance', () => {
  testRuleStore(() => new MemoryStore()); // node:test's it by default
});

describe('Interceptor with stores', () => {
  it('rejects add/remove when the store fails, leaving the rule set unchanged', async () => {
    const store = new FailingStore();
    const ic = new Interceptor({ store });
    await ic.ready();
    await ic.add({ domain: 'kept.example', code: 421 });
    store.fail = true;
    await assert.rejects(ic.add({ domain: 'new.example', code: 421 }), StoreUnavailableError);
    await assert.rejects(ic.remove({ domain: 'kept.example' }), (err: StoreUnavailableError) => err.code === 'store_unavailable' && /disk full/.test(err.message));
    assert.deepEqual(ic.list().map((r) => r.domain), ['kept.example']);
    assert.equal(ic.check({ domain: 'new.example' }), undefined);
    store.fail = false;
    await ic.add({ domain: 'new.example', code: 421 });
    assert.equal(ic.size, 2);
  });

  it('shares cluster rules between interceptors on one cluster store, keeps instance rules apart', async () => {
    const shared = new MemoryStore();
    const [a, b] = [new Interceptor({ clusterStore: shared }), new Interceptor({ clusterStore: shared })];
    await Promise.all([a.ready(), b.ready()]);
    const rule = await a.add({ domain: 'gmail.com', code: 421, cluster: true });
    await a.add({ domain: 'local.example', code: 550 });
    assert.equal(b.check({ domain: 'gmail.com' })?.code, 421);
    assert.equal(b.check({ domain: 'local.example' }), undefined);
    await b.add({ domain: 'gmail.com', code: 451, cluster: true });
    assert.equal(a.check({ domain: 'gmail.com' })?.code, 451);
    assert.equal(a.get(rule.id)?.code, 451);
    await a.remove({ domain: 'gmail.com', cluster: true });
    assert.equal(b.size, 0);
    await Promise.all([a.close(), b.close()]);
  });

  it('loads stored rules on ready(), dropping expired ones, and rejects invalid ones', async () => {
    let t = Date.parse('2026-01-01T00:00:00Z');
    const store = new MemoryStore();
    const writer = new Interceptor({ store, now: () => t });
    await writer.add({ domain: 'a.example', code: 421 });
    await writer.add({ domain: 'b.example', code: 421, ttl: 60 });
    t += 120_000;
    const reader = new Interceptor({ store, now: () => t });
    await reader.ready();
    assert.deepEqual(reader.list().map((r) => r.domain), ['a.example']);

    const bad: RuleStore = { ...new MemoryStore(), load: async () => [{ id: 'x', code: 354, cluster: false, created: 'now', updated: 'now', hits: 0 } as RuleJSON], close: async () => undefined, put: async () => undefined, delete: async () => undefined, clear: async () => undefined };
    await assert.rejects(new Interceptor({ store: bad }).ready(), /stored rule x: code must be/);
  });

  it('enforces a cluster-wide times budget across instances', async () => {
    const shared = new MemoryStore();
    const instances = Array.from({ length: 5 }, () => new Interceptor({ clusterStore: shared }));
    await Promise.all(instances.map((i) => i.ready()));
    await instances[0]!.add({ domain: 'gmail.com', code: 421, cluster: true, times: 7 });
    let forced = 0;
    for (let round = 0; round < 50; round++) {
      for (const ic of instances) if (ic.check({ domain: 'gmail.com' })) forced++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(forced, 7);
    for (const ic of instances) assert.equal(ic.size, 0, 'exhausted everywhere');
    await Promise.all(instances.map((i) => i.close()));
  });
});

describe('cluster times budgets go to the traffic', () => {
  const settle = () => new Promise((resolve) => setTimeout(resolve, 5));

  it('the instance that added a times: 1 rule forces it, even if another heard of it first', async () => {
    const shared = new MemoryStore();
    const [a, b] = [new Interceptor({ clusterStore: shared }), new Interceptor({ clusterStore: shared })];
    await Promise.all([a.ready(), b.ready()]);
    await a.add({ domain: 'gmail.com', code: 421, cluster: true, times: 1 });
    // No wait: add resolves once the rule is usable (its first reservation is held).
    assert.equal(a.check({ domain: 'gmail.com' })?.code, 421);
    await settle();
    assert.equal(a.size + b.size, 0, 'used up everywhere');
    await Promise.all([a.close(), b.close()]);
  });

  it('all applications are forced where the traffic is, and the rule then leaves the store', async () => {
    const shared = new MemoryStore();
    const [a, b] = [new Interceptor({ clusterStore: shared }), new Interceptor({ clusterStore: shared })];
    await Promise.all([a.ready(), b.ready()]);
    await b.add({ domain: 'gmail.com', code: 421, cluster: true, times: 3 });
    let forced = 0;
    for (let i = 0; i < 40 && b.size > 0; i++) {
      if (b.check({ domain: 'gmail.com' })) forced++;
      await settle();
    }
    assert.equal(forced, 3);
    assert.equal(a.size, 0, 'a, which saw no traffic, held nothing back');
    assert.deepEqual(await shared.load(), []);
    await Promise.all([a.close(), b.close()]);
  });

  it('reports unreported uses on close, so the budget can still be used up', async () => {
    const shared = new MemoryStore();
    const a = new Interceptor({ clusterStore: shared });
    await a.ready();
    await a.add({ domain: 'gmail.com', code: 421, cluster: true, times: 2 });
    assert.ok(a.check({ domain: 'gmail.com' }));
    await a.close(); // the use is reported (and nothing is held back)
    const b = new Interceptor({ clusterStore: shared });
    await b.ready();
    let forced = 0;
    for (let i = 0; i < 20 && b.size > 0; i++) {
      if (b.check({ domain: 'gmail.com' })) forced++;
      await settle();
    }
    assert.equal(forced, 1, 'one application was left');
    assert.deepEqual(await shared.load(), []);
    await b.close();
  });
});

describe('persistence edge cases', () => {
  it('retries a failed ready() once the store is back', async () => {
    let down = true;
    const inner = new MemoryStore();
    const store: RuleStore = { load: () => (down ? Promise.reject(new Error('down')) : inner.load()), put: (r) => inner.put(r), delete: (i) => inner.delete(i), clear: () => inner.clear(), close: () => inner.close() };
    const ic = new Interceptor({ store });
    await assert.rejects(ic.ready(), StoreUnavailableError);
    down = false;
    await ic.ready();
    await ic.add({ domain: 'a.example', code: 421 });
    assert.equal(ic.size, 1);
  });

  it('an update another instance sends already expired removes the old version', async () => {
    let t = Date.parse('2026-01-01T00:00:00Z');
    const shared = new MemoryStore();
    const a = new Interceptor({ clusterStore: shared, now: () => t });
    const b = new Interceptor({ clusterStore: shared, now: () => t + 5000 }); // b's clock is 5 s ahead
    await Promise.all([a.ready(), b.ready()]);
    await a.add({ domain: 'gmail.com', code: 421, cluster: true });
    assert.equal(b.size, 1);
    await a.add({ domain: 'gmail.com', code: 421, cluster: true, ttl: 2 });
    assert.equal(b.size, 0);
    await Promise.all([a.close(), b.close()]);
  });

  it('a rule re-added as its old version expires stays in the store', async () => {
    let t = Date.parse('2026-01-01T00:00:00Z');
    const store = new MemoryStore();
    const ic = new Interceptor({ store, now: () => t });
    await ic.add({ domain: 'a.example', code: 421, ttl: 1 });
    t += 1500;
    const readd = ic.add({ domain: 'a.example', code: 421, ttl: 60 });
    ic.check({ domain: 'a.example' }); // the sweep expires the old version while the add is queued
    await readd;
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(ic.size, 1);
    assert.equal((await store.load()).length, 1);
  });
});
