// Counters that survive restarts, through the public API: hits and times left after a graceful restart
// are exact for every store that saves counters; check never writes; saves are batched per interval;
// a failed save is reported once and retried with its counts. The crash bound: counters-crash.test.ts.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type CounterDelta, Interceptor, MemoryStore, type RuleJSON, type RuleStore, StoreOutcomeUnknownError, ValidationError } from '../src/index.js';
import { FileStore } from '../src/stores/file.js';
import { RedisStore } from '../src/stores/redis.js';
import { type RedisServer, startRedis } from './helpers/redis-server.js';

const dir = mkdtempSync(join(tmpdir(), 'smtp-intercept-counters-'));
let files = 0;
after(() => rmSync(dir, { recursive: true, force: true }));

/** A store kind: `open` gives a fresh store and the way to reopen the same data after a restart. */
interface Kind {
  readonly name: string;
  open(): { store: RuleStore; reopen: () => RuleStore };
}

/** A MemoryStore that records every call, and lets a test await the next save or failed attempt. */
class CountingStore extends MemoryStore {
  readonly saves: CounterDelta[][] = [];
  writes = 0;
  attempts = 0;
  /** While set, `saveCounters` rejects with it. */
  fail: Error | undefined;
  #waiters: (() => void)[] = [];

  override async put(rule: RuleJSON): Promise<number> {
    this.writes++;
    return super.put(rule);
  }

  override async delete(ids: readonly string[]): Promise<number> {
    this.writes++;
    return super.delete(ids);
  }

  override async saveCounters(deltas: readonly CounterDelta[]): Promise<void> {
    this.attempts++;
    try {
      if (this.fail) throw this.fail;
      await super.saveCounters(deltas);
      this.saves.push([...deltas]);
    } finally {
      for (const wake of this.#waiters.splice(0)) wake();
    }
  }

  /** Resolves once `saveCounters` has been called `n` times in all (or fails after 5 s). */
  async attempted(n: number): Promise<void> {
    const deadline = Date.now() + 5000;
    while (this.attempts < n) {
      if (Date.now() > deadline) assert.fail(`saveCounters was called ${this.attempts} times, not ${n}`);
      await new Promise<void>((resolve) => { this.#waiters.push(resolve); setTimeout(resolve, 100); });
    }
  }
}

/** Restarts gracefully: closes the interceptor and its store, then starts one on the reopened store. */
async function restart(ic: Interceptor, store: RuleStore, reopen: () => RuleStore, options = {}): Promise<[Interceptor, RuleStore]> {
  await ic.close();
  await store.close();
  const next = reopen();
  const again = new Interceptor({ store: next, ...options });
  await again.ready();
  return [again, next];
}

function exactAfterRestart(kind: Kind): void {
  it(`${kind.name}: after a graceful restart hits and times left are exact, and a rule used up stays gone`, async () => {
    const { store: first, reopen } = kind.open();
    let store = first;
    let ic = new Interceptor({ store });
    await ic.ready();
    const limited = await ic.add({ domain: 'limited.example', code: 421, times: 3 });
    const open = await ic.add({ domain: 'open.example', code: 550 });
    for (let i = 0; i < 2; i++) assert.equal(ic.check({ domain: 'limited.example' })?.code, 421);
    for (let i = 0; i < 5; i++) assert.equal(ic.check({ domain: 'open.example' })?.code, 550);

    [ic, store] = await restart(ic, store, reopen);
    assert.deepEqual([ic.get(limited.id)?.times, ic.get(limited.id)?.hits, ic.get(open.id)?.hits], [1, 2, 5]);
    const removed: string[] = [];
    ic.on('rule:removed', (rule, reason) => removed.push(`${rule.domain} ${reason}`));
    assert.equal(ic.check({ domain: 'limited.example' })?.code, 421);
    assert.equal(ic.check({ domain: 'limited.example' }), undefined);
    assert.deepEqual(removed, ['limited.example exhausted']);

    [ic, store] = await restart(ic, store, reopen);
    assert.equal(ic.get(limited.id), undefined, 'a rule used up before the restart stays used up');
    assert.equal(ic.get(open.id)?.hits, 5);
    await ic.close();
    await store.close();
  });

  it(`${kind.name}: an update keeps the hits counted so far, and the old revision's counts are not added again`, async () => {
    const { store: first, reopen } = kind.open();
    let store = first;
    let ic = new Interceptor({ store });
    await ic.ready();
    const rule = await ic.add({ domain: 'update.example', code: 421, times: 10 });
    for (let i = 0; i < 3; i++) ic.check({ domain: 'update.example' });
    await ic.add({ domain: 'update.example', code: 450, times: 10 });
    assert.deepEqual([ic.get(rule.id)?.hits, ic.get(rule.id)?.times], [3, 10]);
    ic.check({ domain: 'update.example' });

    [ic, store] = await restart(ic, store, reopen);
    assert.deepEqual([ic.get(rule.id)?.code, ic.get(rule.id)?.hits, ic.get(rule.id)?.times], [450, 4, 9]);
    await ic.close();
    await store.close();
  });
}

describe('counters survive restarts', () => {
  exactAfterRestart({
    name: 'MemoryStore',
    open: () => {
      const store = new MemoryStore();
      return { store, reopen: () => store };
    },
  });
  exactAfterRestart({
    name: 'FileStore',
    open: () => {
      const path = join(dir, `rules-${++files}.json`);
      return { store: new FileStore(path), reopen: () => new FileStore(path) };
    },
  });

  describe('RedisStore (real redis-server)', () => {
    let server: RedisServer;
    let prefixes = 0;
    before(async () => { server = await startRedis(); });
    after(() => server.stop());
    /** Checks until the rule forces (a restarted instance reserves its first application on a miss). */
    async function forced(ic: Interceptor, domain: string): Promise<number | undefined> {
      for (let i = 0; i < 200; i++) {
        const code = ic.check({ domain })?.code;
        if (code !== undefined) return code;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return undefined;
    }

    async function instance(prefix: string): Promise<[Interceptor, RedisStore]> {
      const store = new RedisStore({ redis: server.url, prefix });
      const ic = new Interceptor({ clusterStore: store });
      await ic.ready();
      return [ic, store];
    }

    async function stop(...pairs: [Interceptor, RedisStore][]): Promise<void> {
      for (const [ic, store] of pairs) {
        await ic.close();
        await store.close();
      }
    }

    it('a restarted instance resumes a cluster times budget where it was, and hits are the total of every instance', async () => {
      const prefix = `counters-${++prefixes}`;
      const a = await instance(prefix);
      const b = await instance(prefix);
      const rule = await a[0].add({ domain: 'budget.example', code: 421, times: 4, cluster: true });
      assert.equal(await forced(a[0], 'budget.example'), 421);
      assert.equal(await forced(b[0], 'budget.example'), 421);
      assert.equal(await forced(b[0], 'budget.example'), 421);
      await stop(a, b);

      const again = await instance(prefix);
      assert.equal(again[0].get(rule.id)?.hits, 3, 'the hits of both instances');
      assert.equal(await forced(again[0], 'budget.example'), 421, 'one application of four is left');
      assert.equal(await forced(again[0], 'budget.example'), undefined);
      assert.equal(again[0].get(rule.id), undefined, 'used up for everyone');
      await stop(again);
      const after = await instance(prefix);
      assert.equal(after[0].size, 0);
      await stop(after);
    });

    it('a cluster rule used up while an instance was down stays used up when it comes back', async () => {
      const prefix = `counters-${++prefixes}`;
      const a = await instance(prefix);
      const rule = await a[0].add({ domain: 'down.example', code: 421, times: 2, cluster: true });
      await stop(a);
      const b = await instance(prefix);
      assert.equal(await forced(b[0], 'down.example'), 421);
      assert.equal(await forced(b[0], 'down.example'), 421);
      assert.equal(b[0].check({ domain: 'down.example' }), undefined);
      await stop(b);
      const back = await instance(prefix);
      assert.equal(back[0].get(rule.id), undefined);
      assert.equal(back[0].check({ domain: 'down.example' }), undefined);
      await stop(back);
    });

    exactAfterRestart({
      name: 'RedisStore',
      open: () => {
        const prefix = `counters-${++prefixes}`;
        return { store: new RedisStore({ redis: server.url, prefix }), reopen: () => new RedisStore({ redis: server.url, prefix }) };
      },
    });
  });
});

/** An interceptor saving every 20 ms to a CountingStore, with the error events it raised. */
async function failable(): Promise<{ store: CountingStore; ic: Interceptor; errors: unknown[] }> {
  const store = new CountingStore();
  const ic = new Interceptor({ store, counterFlushMs: 20 });
  const errors: unknown[] = [];
  ic.on('error', (err) => errors.push(err));
  await ic.ready();
  return { store, ic, errors };
}

describe('counter saves', () => {
  it('check never writes: a burst of checks makes no store call, then one batch saves it after the interval', async () => {
    const store = new CountingStore();
    const ic = new Interceptor({ store, counterFlushMs: 30 });
    await ic.ready();
    const rule = await ic.add({ domain: 'burst.example', code: 421, times: 5000 });
    const writes = store.writes;
    for (let i = 0; i < 1000; i++) ic.check({ recipient: `user${i}@burst.example` });
    assert.deepEqual([store.writes - writes, store.attempts], [0, 0], 'no store call during the burst');
    await store.attempted(1);
    assert.deepEqual(store.saves, [[{ id: rule.id, revision: store.saves[0]?.[0]?.revision, hits: 1000, used: 1000 }]]);
    assert.match(store.saves[0]![0]!.revision, /^[0-9a-f]+\.\d+$/, 'the revision the rule was stored with');
    for (let i = 0; i < 10; i++) ic.check({ domain: 'burst.example' });
    assert.equal(store.attempts, 1);
    await store.attempted(2);
    assert.deepEqual(store.saves[1]!.map((d) => [d.hits, d.used]), [[10, 10]]);
    await ic.close();
    assert.equal(store.attempts, 2, 'nothing left to save on close: no empty save');
    assert.equal((await store.load())[0]?.times, 3990);
  });

  it('counterFlushMs 0 saves only on close; a cluster budget\'s uses are not counted again (used 0)', async () => {
    const store = new CountingStore();
    const ic = new Interceptor({ clusterStore: store, counterFlushMs: 0 });
    await ic.ready();
    const rule = await ic.add({ domain: 'budget.example', code: 421, times: 3, cluster: true });
    assert.equal(ic.check({ domain: 'budget.example' })?.code, 421); // the reservation made by add
    await new Promise((resolve) => setTimeout(resolve, 50)); // long enough for a timer that must not exist
    assert.equal(store.attempts, 0);
    await ic.close();
    assert.deepEqual(store.saves.flat().map((d) => [d.id, d.hits, d.used]), [[rule.id, 1, 0]]);
    assert.deepEqual((await store.load()).map((r) => [r.hits, r.times]), [[1, 3]], 'times of a budget live in the budget');
  });

  it('a failed save is reported once per outage and its counts are kept for the next attempt', async () => {
    const { store, ic, errors } = await failable();
    const rule = await ic.add({ domain: 'outage.example', code: 421, times: 100 });
    store.fail = new Error('disk full');
    for (let i = 0; i < 5; i++) ic.check({ domain: 'outage.example' });
    await store.attempted(1);
    for (let i = 0; i < 3; i++) ic.check({ domain: 'outage.example' });
    await store.attempted(2);
    assert.equal(errors.length, 1, 'one outage, one report');
    assert.match(String(errors[0]), /saving counters of 1 rule\(s\) failed: disk full/);
    store.fail = undefined;
    await store.attempted(3);
    assert.deepEqual(store.saves, [[{ id: rule.id, revision: store.saves[0]?.[0]?.revision, hits: 8, used: 8 }]]);
    await ic.close();
    assert.deepEqual((await store.load()).map((r) => [r.hits, r.times]), [[8, 92]]);
  });

  it('a save of unknown outcome is not repeated: its counts may have landed, and must not land twice', async () => {
    const { store, ic, errors } = await failable();
    await ic.add({ domain: 'unknown.example', code: 421 });
    store.fail = new StoreOutcomeUnknownError('saving counters: no answer within 2000 ms');
    for (let i = 0; i < 5; i++) ic.check({ domain: 'unknown.example' });
    await store.attempted(1);
    store.fail = undefined;
    for (let i = 0; i < 2; i++) ic.check({ domain: 'unknown.example' });
    await store.attempted(2);
    assert.deepEqual(store.saves.flat().map((d) => d.hits), [2]);
    assert.ok(errors[0] instanceof StoreOutcomeUnknownError);
    await ic.close();
  });

  it('rejects a counterFlushMs that is not an integer from 0 to 2^31-1, naming it', () => {
    for (const counterFlushMs of [-1, 1.5, Number.NaN, 2 ** 31, '1000' as unknown as number]) {
      assert.throws(() => new Interceptor({ counterFlushMs }), (err: ValidationError) => err instanceof ValidationError && err.details[0]?.param === 'counterFlushMs');
    }
  });
});
