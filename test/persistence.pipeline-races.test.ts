// Pipelined writes in the races that matter: add, remove, add of one selector answered in every order
// and with every failure; a second instance writing the same rules through a shared MemoryStore and a
// real Redis while writes are in flight; background removals behind a write of the same rule; close().
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { Interceptor, MemoryStore, type RuleStore } from '../src/index.js';
import { RedisStore } from '../src/stores/redis.js';
import { LatentStore, turns } from './helpers/latent-store.js';
import { type RedisServer, startRedis } from './helpers/redis-server.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const view = (ic: Interceptor) => JSON.stringify(ic.list().map((r) => [r.id, r.code, r.updated]).sort());
const stored = async (store: RuleStore) => JSON.stringify((await store.load()).map((r) => [r.id, r.code, Date.parse(r.updated)]).sort());

async function converged(ics: Interceptor[], store: RuleStore, what: string): Promise<void> {
  for (const end = Date.now() + 5000; ; await sleep(5)) {
    const want = await stored(store);
    if (ics.every((ic) => view(ic) === want)) return;
    if (Date.now() > end) assert.fail(`${what}: instances ${ics.map(view).join(' | ')} differ from the store ${want}`);
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => { resolve = r; });
  return { promise, resolve };
}

const permutations = <T>(xs: T[]): T[][] => xs.length <= 1 ? [xs] : xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));

describe('add A; remove A; add A issued back to back', () => {
  const gmail = { domain: 'gmail.com', cluster: true };
  for (const existing of [false, true]) {
    it(`ends as one at a time would, in every order of answers and with every failure (${existing ? 'A already stored' : 'A new'})`, async () => {
      for (const order of permutations([0, 1, 2])) {
        for (let failures = 0; failures < 8; failures++) {
          const fail = [0, 1, 2].map((i) => (failures & (1 << i)) !== 0);
          const shared = new MemoryStore();
          const answers = [deferred(), deferred(), deferred()];
          let first = existing ? 1 : 0; // the add of A0 goes through at once
          const store = new LatentStore(shared, ({ n }) => n < first ? { fail: false, answer: Promise.resolve() } : { fail: fail[n - first]!, answer: answers[n - first]!.promise });
          const ic = new Interceptor({ clusterStore: store });
          const a0 = existing ? await ic.add({ ...gmail, code: 421 }) : undefined;
          first = store.calls;
          const settled = <T>(p: Promise<T>) => p.then((value) => ({ ok: true as const, value }), () => ({ ok: false as const, value: undefined }));
          const calls = [settled(ic.add({ ...gmail, code: 450 })), settled(ic.remove(gmail)), settled(ic.add({ ...gmail, code: 550 }))] as const;
          while (store.calls < first + 3) await turns(1); // every write was sent before any answer
          for (const i of order) { answers[i]!.resolve(); await turns(1); }
          const [add1, removal, add2] = await Promise.all(calls);
          const label = `answers in order ${order.join(',')}, failing ${fail.join(',')}`;
          assert.deepEqual([add1.ok, removal.ok, add2.ok], fail.map((f) => !f), label);
          // As one at a time: the remove takes what the first add left, the last add wins.
          const beforeRemove = add1.ok ? 450 : a0?.code;
          if (removal.ok) assert.equal(removal.value?.code, beforeRemove, `remove's result, ${label}`);
          const last = add2.ok ? 550 : removal.ok ? undefined : beforeRemove;
          assert.equal(ic.list()[0]?.code, last, `index, ${label}`);
          assert.equal(await stored(shared), view(ic), `store = index, ${label}`);
          if (a0 && add1.ok) assert.equal(add1.value.created, a0.created, `the update keeps created, ${label}`);
          await ic.close();
        }
      }
    });
  }
});

describe('a second instance writes the same rules while writes are in flight', () => {
  const ops = fc.array(fc.record({
    who: fc.integer({ min: 0, max: 1 }),
    kind: fc.constantFrom('add', 'add', 'remove', 'clear'),
    domain: fc.constantFrom('a.example', 'b.example'),
    code: fc.constantFrom(421, 450, 550),
    gap: fc.constantFrom(0, 0, 1),
  }), { minLength: 1, maxLength: 14 });
  const timing = fc.record({ reportTurns: fc.integer({ min: 0, max: 3 }), failEvery: fc.constantFrom(0, 3, 5), answerTurns: fc.integer({ min: 0, max: 3 }) });

  it('both instances end at the store, never going back to an older revision (shared MemoryStore, 200 rounds)', async () => {
    await fc.assert(fc.asyncProperty(ops, fc.tuple(timing, timing), async (steps, timings) => {
      let clock = Date.parse('2026-01-01T00:00:00Z');
      const now = () => (clock += 1); // distinct `updated` per write, across instances
      const shared = new MemoryStore();
      const errors: unknown[] = [];
      const ics = timings.map((t) => new Interceptor({ now, clusterStore: new LatentStore(shared, ({ n }) => ({
        fail: t.failEvery > 0 && n % t.failEvery === t.failEvery - 1,
        answer: turns((n * 7) % (t.answerTurns + 1)), // answers out of call order
      }), t.reportTurns) }));
      ics.forEach((ic, i) => {
        ic.on('error', (err) => errors.push(err));
        const newest = new Map<string, number>();
        const installed = (rule: { id: string; updated: number }) => {
          if (rule.updated < (newest.get(rule.id) ?? 0)) errors.push(`instance ${i} went back to an older revision of ${rule.id}`);
          newest.set(rule.id, Math.max(rule.updated, newest.get(rule.id) ?? 0));
        };
        ic.on('rule:added', installed).on('rule:updated', installed);
      });
      await Promise.all(ics.map((ic) => ic.ready()));
      const calls: Promise<unknown>[] = [];
      for (const s of steps) {
        const ic = ics[s.who]!;
        const call = s.kind === 'add' ? ic.add({ domain: s.domain, code: s.code, cluster: true })
          : s.kind === 'remove' ? ic.remove({ domain: s.domain, cluster: true }) : ic.clear();
        calls.push(call.catch(() => undefined)); // injected failures reject their call only
        if (s.gap > 0) await turns(s.gap);
      }
      await Promise.all(calls);
      await converged(ics, shared, 'after every call settled');
      assert.deepEqual(errors, []);
      await Promise.all(ics.map((ic) => ic.close()));
    }), { numRuns: Number(process.env.PIPELINE_RUNS ?? 200), seed: Number(process.env.PIPELINE_SEED ?? 14) });
  });

  describe('on Redis', () => {
    let server: RedisServer;
    before(async () => { server = await startRedis(); });
    after(() => server.stop());

    it('two instances, 300 concurrent adds, removes and clears each, end at the store', async () => {
      for (let round = 0; round < 3; round++) {
        const prefix = `pipeline-${process.pid}-${round}`;
        const stores = [0, 1].map(() => new RedisStore({ redis: server.url, prefix }));
        const ics = stores.map((clusterStore) => new Interceptor({ clusterStore }));
        const errors: unknown[] = [];
        for (const ic of ics) ic.on('error', (err) => errors.push(err));
        await Promise.all(ics.map((ic) => ic.ready()));
        const calls = ics.flatMap((ic, who) => Array.from({ length: 300 }, (_, i) => {
          const domain = `d${(i * 7 + who) % 20}.example`;
          if (i % 97 === 50) return ic.clear();
          return i % 3 === 2 ? ic.remove({ domain, cluster: true }) : ic.add({ domain, code: 421 + (i % 5), cluster: true });
        }));
        await Promise.all(calls);
        await converged(ics, stores[0]!, `round ${round}`);
        assert.deepEqual(errors, []);
        await Promise.all(ics.map((ic) => ic.close()));
        await Promise.all(stores.map((s) => s.close()));
      }
    });
  });
});

describe('what waits for writes in flight', () => {
  it('close() resolves once every write in flight applied or failed: index = store', async () => {
    const shared = new MemoryStore();
    const store = new LatentStore(shared, ({ n }) => ({ fail: n % 10 === 9, answer: turns(n % 4) }));
    const ic = new Interceptor({ store });
    await ic.ready();
    const calls = Array.from({ length: 100 }, (_, i) => ic.add({ domain: `d${i}.example`, code: 421 }).catch(() => undefined));
    await ic.close();
    assert.equal(ic.size, 90, 'every write answered: 90 stored, 10 failed');
    assert.equal(await stored(shared), view(ic));
    await Promise.all(calls);
  });

  for (const fails of [true, false]) {
    it(`a rule used up while an update of it is in flight leaves the store ${fails ? 'once the update fails' : 'only if the update does not replace it'}`, async () => {
      const shared = new MemoryStore();
      const answer = deferred();
      const store = new LatentStore(shared, ({ n }) => n === 1 ? { fail: fails, answer: answer.promise } : { fail: false, answer: Promise.resolve() });
      const ic = new Interceptor({ store });
      await ic.add({ domain: 'gmail.com', code: 421, times: 1 });
      const update = ic.add({ domain: 'gmail.com', code: 450 }).catch(() => undefined);
      while (store.calls < 2) await turns(1);
      assert.equal(ic.check({ domain: 'gmail.com' })?.code, 421, 'used up: its background removal waits for the update');
      answer.resolve();
      await update;
      await ic.close(); // waits for the background removal too
      assert.equal(ic.list()[0]?.code, fails ? undefined : 450);
      assert.equal(await stored(shared), view(ic));
    });
  }

  it('concurrent adds of cluster times rules each resolve usable, holding their first reservation', async () => {
    const shared = new MemoryStore();
    const ic = new Interceptor({ clusterStore: new LatentStore(shared, ({ n }) => ({ fail: false, answer: turns(n % 3) })) });
    await ic.ready();
    const usable: boolean[] = [];
    await Promise.all(Array.from({ length: 50 }, (_, i) => ic.add({ domain: `d${i}.example`, code: 421, times: 2, cluster: true })
      .then((rule) => { usable.push(ic.get(rule.id)?.times === 1 && ic.check({ domain: `d${i}.example` })?.code === 421); })));
    assert.deepEqual(usable, Array.from({ length: 50 }, () => true));
    await ic.close();
  });
});
