// RedisStore reads counters written by earlier versions (the same keys: `<prefix>:hits` held a total
// for every rule that had a save, `<prefix>:used` the uses of `times`), and an update of such a rule
// keeps every hit: the saved total, what the updater counted, and what an older instance saves later.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Interceptor, type RuleJSON } from '../../src/index.js';
import { RedisStore } from '../../src/stores/redis.js';
import { ruleJSON } from '../../src/testing/store-fixtures.js';
import { useRedisSuite } from '../helpers/redis-suite.js';

const redis = useRedisSuite('counter-layout');

/** Writes rules and counters as an earlier version left them (its PUT never wrote `hits` entries). */
async function earlier(prefix: string, rules: readonly RuleJSON[], hits: Record<string, number>, used: Record<string, number>): Promise<void> {
  await redis.admin.hset(`${prefix}:rules`, ...rules.flatMap((r) => [r.id, JSON.stringify(r)]));
  if (Object.keys(hits).length > 0) await redis.admin.hset(`${prefix}:hits`, hits);
  if (Object.keys(used).length > 0) await redis.admin.hset(`${prefix}:used`, used);
  await redis.admin.set(`${prefix}:version`, String(rules.length));
}

const counts = (ic: Interceptor, ids: readonly string[]) => ids.map((id) => { const r = ic.get(id); return r && [r.code, r.hits, r.times]; });

describe('RedisStore: counters written by an earlier version', () => {
  it('are loaded as they were, and updates keep the saved totals, the updater\'s hits and a later save by an older instance', async () => {
    const prefix = redis.nextPrefix();
    // saved: a total saved apart from the JSON; plain: no save yet (the JSON's hits count); limited: uses saved
    const saved = { ...(await ruleJSON({ domain: 'saved.example', code: 421 })), hits: 5, revision: 'old.1' };
    const plain = { ...(await ruleJSON({ domain: 'plain.example', code: 421 })), hits: 4, revision: 'old.2' };
    const limited = { ...(await ruleJSON({ domain: 'limited.example', code: 421, times: 5 })), hits: 1, revision: 'old.3' };
    const ids = [saved.id, plain.id, limited.id];
    await earlier(prefix, [saved, plain, limited], { [saved.id]: 9 }, { [limited.id]: 2 });
    const open = () => new RedisStore({ redis: redis.server.url, prefix });
    const store = open();
    const ic = new Interceptor({ store, counterFlushMs: 0 });
    try {
      await ic.ready();
      assert.deepEqual(counts(ic, ids), [[421, 9, undefined], [421, 4, undefined], [421, 1, 3]]);
      for (const domain of ['saved.example', 'plain.example', 'plain.example', 'limited.example']) assert.ok(ic.check({ domain }));
      // An older instance saves 3 hits of `saved` (its script: HINCRBY on the total) while this one updates.
      await redis.admin.hincrby(`${prefix}:hits`, saved.id, 3);
      await ic.add({ domain: 'saved.example', code: 450 });
      await ic.add({ domain: 'plain.example', code: 450 });
      await ic.add({ domain: 'limited.example', code: 450, times: 5 });
      for (const domain of ['saved.example', 'plain.example', 'limited.example']) assert.ok(ic.check({ domain }));
    } finally {
      await ic.close();
      await store.close();
    }
    const next = open();
    const again = new Interceptor({ store: next });
    try {
      await again.ready();
      // saved: 9 + 3 (older instance) + 2 here; plain: 4 + 3; limited: 1 + 2, a new revision's times 5 - 1
      assert.deepEqual(counts(again, ids), [[450, 14, undefined], [450, 7, undefined], [450, 3, 4]]);
    } finally {
      await again.close();
      await next.close();
    }
  });
});
