// RedisStore.saveCounters against a real redis-server on loopback: a big batch goes out as several
// scripts of bounded size, in its place among the store's writes; a batch of which only part was
// recorded rejects as an unknown outcome, one of which nothing was recorded as unavailable.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { type CounterDelta, type RuleJSON, SmtpInterceptError, StoreOutcomeUnknownError, StoreUnavailableError } from '../../src/index.js';
import { MAX_COUNTER_DELTAS, RedisStore } from '../../src/stores/redis.js';
import { storedAt } from '../../bench/workload.js';
import { until, useRedisSuite } from '../helpers/redis-suite.js';

const redis = useRedisSuite('counters');
const nextPrefix = redis.nextPrefix;

/** `size` stored rules in the store's hash; every delta adds one hit to its rule. */
async function filled(prefix: string, size: number): Promise<{ rules: RuleJSON[]; deltas: CounterDelta[] }> {
  const rules = Array.from({ length: size }, (_, i) => storedAt(i, true));
  for (let start = 0; start < size; start += 5_000) {
    await redis.admin.hset(`${prefix}:rules`, ...rules.slice(start, start + 5_000).flatMap((r) => [r.id, JSON.stringify(r)]));
  }
  return { rules, deltas: rules.map((r) => ({ id: r.id, revision: r.revision!, hits: 1, used: 0 })) };
}

/** The hits saved for each rule (undefined: none saved). */
async function savedHits(prefix: string, rules: readonly RuleJSON[]): Promise<(number | undefined)[]> {
  const saved = await redis.admin.hmget(`${prefix}:hits`, ...rules.map((r) => r.id));
  return saved.map((n) => (n === null ? undefined : Number(n)));
}

describe('RedisStore.saveCounters batches', () => {
  it(`a batch of ${(2.5 * MAX_COUNTER_DELTAS).toLocaleString('en-US')} deltas runs as 3 scripts of at most ${MAX_COUNTER_DELTAS}, in its place among the writes`, async () => {
    const prefix = nextPrefix();
    const { rules, deltas } = await filled(prefix, 2.5 * MAX_COUNTER_DELTAS);
    const base = new Redis(redis.server.url);
    const monitor = await base.monitor();
    const scripts: number[] = [];
    let caughtUp = false;
    monitor.on('monitor', (_time: string, args: string[]) => {
      // EVAL script numkeys, 4 keys, channel and budget prefix, then 4 arguments per delta
      // (MONITOR escapes the script's text: it is recognised by a word only it holds.)
      if (args[0]!.toLowerCase() === 'eval' && args[1]!.includes('gone[id]')) scripts.push((args.length - 9) / 4);
      if (args[0]!.toLowerCase() === 'echo' && args[1] === prefix) caughtUp = true;
    });
    const store = new RedisStore({ redis: redis.server.url, prefix });
    try {
      const last = rules[rules.length - 1]!;
      // Called after the save without waiting: a new revision of a rule of the last script. The save of
      // the old revision must land first, so the hit it saved stays with the rule (an update keeps hits).
      const saving = store.saveCounters(deltas);
      const updating = store.put({ ...last, description: 'updated after the save', revision: 'after.1' });
      await Promise.all([saving, updating]);
      // Redis feeds the monitor in the order it runs commands: once it has the marker, it has the scripts.
      await redis.admin.echo(prefix);
      await until(() => caughtUp, 'the monitor to catch up');
      assert.deepEqual(scripts, [MAX_COUNTER_DELTAS, MAX_COUNTER_DELTAS, MAX_COUNTER_DELTAS / 2]);
      assert.deepEqual(await savedHits(prefix, rules), rules.map((r) => r.hits + 1), 'every delta recorded once');
      const loaded = (await store.load()).find((r) => r.id === last.id)!;
      assert.deepEqual([loaded.revision, loaded.hits], ['after.1', last.hits + 1]);
    } finally {
      monitor.disconnect();
      base.disconnect();
      await store.close();
    }
  });

  it('when one script of a batch fails and the others are applied: StoreOutcomeUnknownError, and nothing of the failed script is recorded', async () => {
    const prefix = nextPrefix();
    const { rules, deltas } = await filled(prefix, 2.5 * MAX_COUNTER_DELTAS);
    // The first rule of the second script is not JSON (a foreign writer): that script fails in Redis.
    await redis.admin.hset(`${prefix}:rules`, rules[MAX_COUNTER_DELTAS]!.id, 'not json');
    const store = new RedisStore({ redis: redis.server.url, prefix });
    try {
      await assert.rejects(store.saveCounters(deltas), (err: Error) => err instanceof StoreOutcomeUnknownError && /1 of 3 scripts failed/.test(err.message));
      const saved = await savedHits(prefix, rules);
      const expected = rules.map((r, i) => (i >= MAX_COUNTER_DELTAS && i < 2 * MAX_COUNTER_DELTAS ? undefined : r.hits + 1));
      assert.deepEqual(saved, expected, 'the first and third scripts recorded, the second none');
    } finally {
      await store.close();
    }
  });

  it('when every script fails before writing: StoreUnavailableError (nothing recorded, the caller may repeat it)', async () => {
    const prefix = nextPrefix();
    const { rules, deltas } = await filled(prefix, 10);
    await redis.admin.hset(`${prefix}:rules`, rules[9]!.id, 'not json'); // the last delta: the others come first in the script
    const store = new RedisStore({ redis: redis.server.url, prefix });
    try {
      await assert.rejects(store.saveCounters(deltas), (err: Error) => err instanceof StoreUnavailableError && !(err instanceof StoreOutcomeUnknownError));
      assert.deepEqual(await savedHits(prefix, rules), rules.map(() => undefined), 'no delta of the script recorded');
    } finally {
      await store.close();
    }
  });

  it('a count that is not a non-negative integer is refused before anything is sent, naming the rule and field', async () => {
    const store = new RedisStore({ redis: redis.server.url, prefix: nextPrefix() });
    try {
      await assert.rejects(store.saveCounters([{ id: 'r1', revision: '', hits: 1.5, used: 0 }]), (err: Error) => err instanceof SmtpInterceptError && /rule r1: hits must be a non-negative integer, got 1\.5/.test(err.message));
      await assert.rejects(store.saveCounters([{ id: 'r2', revision: '', hits: 0, used: -1 }]), /rule r2: used must be/);
    } finally {
      await store.close();
    }
  });
});
