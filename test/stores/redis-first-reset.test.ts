// The first snapshot RedisStore reports as a `reset` too: the engine recognises it as the snapshot it just
// installed and skips it (no walk of every rule, no event), while an `add` racing ready() and writes of
// another instance during the load still end exactly as the store holds them. Real redis-server.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Interceptor, type RuleJSON } from '../../src/index.js';
import { RedisStore } from '../../src/stores/redis.js';
import { SCAN_BATCH } from '../../src/stores/redis-snapshot.js';
import { startupInputAt, storedAt } from '../../bench/workload.js';
import { until, useRedisSuite } from '../helpers/redis-suite.js';

const redis = useRedisSuite('first-reset');

describe('RedisStore first snapshot', () => {
  it('is installed once: 40 rounds with an add racing ready() and another instance writing during the load', async () => {
    const prefix = redis.nextPrefix();
    const size = SCAN_BATCH + 7; // two scan batches: a window for the other instance's writes
    // Half the rules without a revision: a reset applied in full would restore each of them again (an update).
    const rules = Array.from({ length: size }, (_, i) => {
      const rule: RuleJSON = storedAt(i, true);
      if (i % 2 === 0) delete rule.revision;
      return rule;
    });
    await redis.admin.hset(`${prefix}:rules`, ...rules.flatMap((r) => [r.id, JSON.stringify(r)]));
    await redis.admin.set(`${prefix}:version`, '1');
    const writer = new RedisStore({ redis: redis.server.url, prefix });
    try {
      for (let round = 0; round < 40; round++) {
        const store = new RedisStore({ redis: redis.server.url, prefix, commandTimeoutMs: 10_000, checkIntervalMs: 60_000 });
        const ic = new Interceptor({ clusterStore: store });
        const events: string[] = [];
        ic.on('rule:updated', (rule) => events.push(`updated ${rule.id}`)).on('rule:removed', (rule, reason) => events.push(`removed ${rule.id} ${reason}`));
        try {
          // Another instance changes a snapshot rule and removes one, at a different moment of each round's load.
          const remote = (async () => {
            for (let n = 0; n < round % 5; n++) await new Promise((resolve) => setImmediate(resolve));
            await writer.put({ ...rules[round]!, description: `remote ${round}`, revision: `remote.${round}` });
            await writer.delete([rules[size - 1 - round]!.id]);
          })();
          const ready = ic.ready();
          // Issued before ready() resolved: the write waits for the load, then applies after the snapshot.
          const added = ic.add({ ...startupInputAt(size + round, true), description: `added ${round}` });
          await Promise.all([ready, added, remote]);
          const want = new Map(Object.entries(await redis.admin.hgetall(`${prefix}:rules`)).map(([id, text]) => [id, (JSON.parse(text) as RuleJSON).description]));
          assert.ok(want.has((await added).id), `round ${round}: the racing add is stored`);
          await until(() => ic.size === want.size && [...want].every(([id, description]) => ic.get(id)?.description === description),
            `round ${round}: the instance to hold the hash`);
          // The only updates and removals are the other instance's own (the snapshot's reset changed nothing).
          const remoteEvents = events.filter((e) => e !== `updated ${rules[round]!.id}` && e !== `removed ${rules[size - 1 - round]!.id} deleted`);
          assert.deepEqual(remoteEvents, [], `round ${round}: events beyond the other instance's changes`);
        } finally {
          await ic.close();
          await store.close();
        }
        // Back to the original rule set for the next round.
        await writer.put(rules[round]!);
        await writer.put(rules[size - 1 - round]!);
        await writer.delete([(await new Interceptor().add({ ...startupInputAt(size + round, true) })).id]);
      }
    } finally {
      await writer.close();
    }
  });
});
