// RedisStore counters across updates of one rule, against a real redis-server on loopback: hits counted
// while updates are in flight, saves that fail or end unknown around them, and other instances' saves
// meanwhile. After a graceful stop, Redis holds every hit once: the updater's (carried by the update's
// JSON) and every other instance's (already saved, never overwritten by the update).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Interceptor } from '../../src/index.js';
import { RedisStore } from '../../src/stores/redis.js';
import { ScriptedStore } from '../helpers/counter-store.js';
import { turns } from '../helpers/latent-store.js';
import { useRedisSuite } from '../helpers/redis-suite.js';

const redis = useRedisSuite('counter-races');
const DOMAIN = 'race.example';

/** A store on a fresh prefix behind a ScriptedStore (late writes), and a way to open its data again. */
function opened() {
  const prefix = redis.nextPrefix();
  const open = () => new RedisStore({ redis: redis.server.url, prefix });
  const real = open();
  return { real, store: new ScriptedStore(real), open };
}

/** The rule's [code, hits, times] after a restart on the same keys. */
async function reloaded(open: () => RedisStore, id: string) {
  const store = open();
  const ic = new Interceptor({ store });
  try {
    await ic.ready();
    const rule = ic.get(id);
    return rule && [rule.code, rule.hits, rule.times];
  } finally {
    await ic.close();
    await store.close();
  }
}

const check = (ic: Interceptor, n: number) => { for (let i = 0; i < n; i++) assert.ok(ic.check({ domain: DOMAIN })); };

describe('RedisStore: hits across updates of one rule', () => {
  it('two updates in flight with checks before, between and after them: every hit once after a restart', async () => {
    const { real, store, open } = opened();
    const ic = new Interceptor({ store, counterFlushMs: 0 });
    await ic.ready();
    const rule = await ic.add({ domain: DOMAIN, code: 421 });
    check(ic, 1);
    store.writePlan = () => ({ fail: false, turns: 4 });
    const first = ic.add({ domain: DOMAIN, code: 450 });
    await turns(1);
    check(ic, 2); // held for the first update
    const second = ic.add({ domain: DOMAIN, code: 550 });
    await turns(1);
    check(ic, 3); // held for the second
    await Promise.all([first, second]);
    assert.equal(ic.get(rule.id)?.hits, 6);
    await ic.close();
    await real.close();
    assert.deepEqual(await reloaded(open, rule.id), [550, 6, undefined]);
  });

  it('an update by one instance keeps the hits another instance saved since the updater loaded', async () => {
    const prefix = redis.nextPrefix();
    const open = () => new RedisStore({ redis: redis.server.url, prefix });
    const [a, b] = [open(), open()];
    const x = new Interceptor({ clusterStore: a, counterFlushMs: 0 });
    const y = new Interceptor({ clusterStore: b, counterFlushMs: 0 });
    try {
      await x.ready();
      const rule = await x.add({ domain: DOMAIN, code: 421, cluster: true });
      await y.ready();
      check(x, 3);
      await x.close(); // saves its 3 hits: y, loaded before them, does not know of them
      for (let i = 0; i < 2; i++) assert.ok(y.check({ domain: DOMAIN }));
      await y.add({ domain: DOMAIN, code: 450, cluster: true }); // its JSON carries the 2 hits y counted
      for (let i = 0; i < 4; i++) assert.ok(y.check({ domain: DOMAIN }));
      await y.close();
      assert.deepEqual(await reloaded(open, rule.id), [450, 9, undefined]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe('RedisStore: random schedules of checks, updates and failed saves', () => {
  it('after a graceful stop Redis holds exactly the interceptor\'s hits and times', async () => {
    const numRuns = Number(process.env.COUNTER_RUNS ?? 60);
    const seed = Number(process.env.COUNTER_SEED ?? 16);
    const times = fc.constantFrom(undefined, undefined, 3, 1000);
    const step = fc.oneof(
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('check' as const), n: fc.integer({ min: 1, max: 3 }) }) },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('update' as const), code: fc.constantFrom(421, 450, 550), times }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('remove' as const, 'clear' as const) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('turns' as const), n: fc.integer({ min: 1, max: 6 }) }) },
    );
    const round = fc.record({
      first: times,
      steps: fc.array(step, { minLength: 1, maxLength: 14 }),
      saves: fc.array(fc.record({ outcome: fc.constantFrom('ok' as const, 'ok' as const, 'fail' as const, 'unknown-applied' as const), turns: fc.integer({ min: 0, max: 6 }) }), { minLength: 1, maxLength: 12 }),
      writes: fc.array(fc.record({ fail: fc.integer({ min: 0, max: 4 }).map((n) => n === 0), turns: fc.integer({ min: 0, max: 6 }) }), { minLength: 1, maxLength: 12 }),
    });
    await fc.assert(fc.asyncProperty(round, async ({ first, steps, saves, writes }) => {
      const { real, store, open } = opened();
      const ic = new Interceptor({ store, counterFlushMs: 1 });
      ic.on('error', () => undefined); // failed saves and writes are reported; the counts are what is tested
      let removed = false;
      ic.on('rule:removed', () => { removed = true; });
      await ic.ready();
      const rule = await ic.add({ domain: DOMAIN, code: 421, times: first });
      store.savePlan = (n) => saves[n % saves.length]!;
      store.writePlan = (n) => writes[n % writes.length]!;
      let forced = 0;
      const calls: Promise<unknown>[] = [];
      for (const s of steps) {
        if (s.kind === 'check') for (let i = 0; i < s.n; i++) forced += ic.check({ domain: DOMAIN }) ? 1 : 0;
        else if (s.kind === 'update') calls.push(ic.add({ domain: DOMAIN, code: s.code, times: s.times }).catch(() => undefined));
        else if (s.kind === 'remove') calls.push(ic.remove({ domain: DOMAIN }).catch(() => undefined));
        else if (s.kind === 'clear') calls.push(ic.clear().catch(() => undefined));
        else if (s.kind === 'turns') await turns(s.n);
      }
      await Promise.all(calls);
      store.savePlan = () => ({ outcome: 'ok', turns: 0 });
      store.writePlan = () => ({ fail: false, turns: 0 });
      const held = ic.get(rule.id);
      await ic.close();
      await real.close();
      const after = await reloaded(open, rule.id);
      assert.deepEqual(after, held && [held.code, held.hits, held.times], 'a restart loads what the interceptor held');
      // Without removals (and rules used up), every forced result is one hit of the one rule.
      if (held && !removed) assert.equal(held.hits, forced, 'hits are the forced results, each counted once');
    }), { numRuns, seed, includeErrorInReport: true });
  });
});
