// RedisStore's batched load against a real redis-server on loopback: a big rule hash read while another
// client keeps writing. Every change is either in the snapshot or reported after it, in order; none lost.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { Interceptor, type RuleJSON } from '../../src/index.js';
import { RedisStore } from '../../src/stores/redis.js';
import { hitAt, storedAt } from '../../bench/workload.js';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';

const SIZE = 200_000;
let server: RedisServer;
before(async () => { server = await startRedis(); });
after(() => server.stop());

/** Fills the hash in the store's key layout with pipelined HSETs (the store's own writes would take minutes). */
async function fill(admin: Redis, prefix: string, size: number): Promise<RuleJSON[]> {
  const rules = Array.from({ length: size }, (_, i) => storedAt(i, true));
  for (let start = 0; start < size; start += 5_000) {
    await admin.hset(`${prefix}:rules`, ...rules.slice(start, start + 5_000).flatMap((r) => [r.id, JSON.stringify(r)]));
  }
  await admin.set(`${prefix}:version`, '1');
  return rules;
}

describe('RedisStore load of a big hash', () => {
  it(`${SIZE.toLocaleString('en-US')} rules loaded while another instance writes: nothing lost, nothing out of order`, async () => {
    const prefix = `load-${process.pid}`;
    const admin = new Redis(server.url);
    // Correctness, not timing: a generous timeout, so a loaded machine does not fail a batch.
    const writerStore = new RedisStore({ redis: server.url, prefix, commandTimeoutMs: 10_000 });
    const readerStore = new RedisStore({ redis: server.url, prefix, commandTimeoutMs: 10_000 });
    const reader = new Interceptor({ clusterStore: readerStore });
    try {
      const rules = await fill(admin, prefix, SIZE);
      // The writer updates 50 extra rules (description `w<n>`, n growing) and removes stored ones.
      const extra = Array.from({ length: 50 }, (_, k) => storedAt(SIZE + k, true));
      const seen = new Map<string, number>();
      const regressions: string[] = [];
      const heard = (rule: { id: string; description: string | readonly string[] | undefined }) => {
        const n = typeof rule.description === 'string' && rule.description.startsWith('w') ? Number(rule.description.slice(1)) : -1;
        if (n < 0) return;
        if (n <= (seen.get(rule.id) ?? -1)) regressions.push(`${rule.id}: w${n} after w${seen.get(rule.id)}`);
        seen.set(rule.id, n);
      };
      reader.on('rule:added', heard).on('rule:updated', heard);
      let stop = false;
      let writes = 0;
      const writing = (async () => {
        for (let n = 0; !stop; n++) {
          // A write whose outcome is unknown may or may not be in the hash: the check below reads the hash.
          if (n % 4 === 3) await writerStore.delete([rules[(n * 7919) % SIZE]!.id]).catch(() => undefined);
          else await writerStore.put({ ...extra[n % 50]!, description: `w${n}`, revision: `writer.${n}` }).catch(() => undefined);
          writes++;
          await new Promise((resolve) => setTimeout(resolve, 1)); // about a thousand changes a second at most
        }
      })();
      while (writes < 20) await new Promise((resolve) => setTimeout(resolve, 5));
      const startedAt = writes;
      await reader.ready();
      const during = writes - startedAt;
      stop = true;
      await writing;

      assert.ok(during > 0, 'changes were made while the hash was read');
      // The reader converges on what the hash holds once the writer stopped.
      const deadline = Date.now() + 10_000;
      const expected = async () => new Map(Object.entries(await admin.hgetall(`${prefix}:rules`)).map(([id, text]) => [id, (JSON.parse(text) as RuleJSON).description]));
      let want = await expected();
      while (!(reader.size === want.size && [...want].every(([id, description]) => reader.get(id)?.description === description))) {
        assert.ok(Date.now() < deadline, `reader has ${reader.size} rules, the hash ${want.size}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
        want = await expected();
      }
      assert.deepEqual(regressions, [], 'no rule went back to an older write');
      // Stored rules still there force their codes (those with `times` wait for a budget reservation).
      for (let i = 0; i < 600; i++) {
        const rule = rules[i]!;
        if (rule.times === undefined && want.has(rule.id)) assert.equal(reader.check(hitAt(i))?.code, rule.code, rule.id);
      }
    } finally {
      await reader.close();
      await Promise.all([readerStore.close(), writerStore.close()]);
      await admin.del(`${prefix}:rules`, `${prefix}:version`);
      admin.disconnect();
    }
  });
});
