// RedisStore's safety net against a real redis-server on loopback: a change whose message never comes is
// repaired by the version check, and a change whose message is merely on its way (Redis counts the
// version before the message reaches the reader) does not cost a reload of the whole hash. Changes are
// made behind the store's back with an admin client, as its scripts make them, so the test decides when
// (or whether) the message is published. Reloads are counted through MONITOR.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { Interceptor } from '../../src/index.js';
import { RedisStore } from '../../src/stores/redis.js';
import { storedAt } from '../../bench/workload.js';
import { until, useRedisSuite } from '../helpers/redis-suite.js';

const redis = useRedisSuite('net');
const INTERVAL = 250;

/** Watches the commands Redis runs: counts full scans of the rule hash and version reads by `reader`. */
async function monitor(prefix: string) {
  const base = new Redis(redis.server.url);
  const client = await base.monitor();
  const seen = { scans: 0, versionReads: 0 };
  client.on('monitor', (_time: string, args: string[]) => {
    const name = args[0]!.toLowerCase();
    if (name === 'hscan' && args[1] === `${prefix}:rules` && args[2] === '0') seen.scans++;
    if (name === 'get' && args[1] === `${prefix}:version`) seen.versionReads++;
  });
  return { seen, stop: () => { client.disconnect(); base.disconnect(); } };
}

/** Stores a rule as the PUT script does, without publishing it; returns the message it would publish. */
async function putBehindTheBack(prefix: string, i: number): Promise<{ id: string; message: string }> {
  const rule = { ...storedAt(i, true), revision: `admin.${i}` };
  const text = JSON.stringify(rule);
  const version = await redis.admin.incr(`${prefix}:version`);
  await redis.admin.hset(`${prefix}:rules`, rule.id, text);
  return { id: rule.id, message: `${version} put ${text}` };
}

async function follower(prefix: string) {
  const store = new RedisStore({ redis: redis.server.url, prefix, checkIntervalMs: INTERVAL });
  const ic = new Interceptor({ clusterStore: store });
  await ic.ready();
  return { ic, close: async () => { await ic.close(); await store.close(); } };
}

describe('RedisStore safety net', () => {
  it('a change whose message never comes is loaded by the version check, once', async () => {
    const prefix = redis.nextPrefix();
    const { ic, close } = await follower(prefix);
    const watch = await monitor(prefix);
    try {
      const { id } = await putBehindTheBack(prefix, 1);
      await until(() => ic.get(id) !== undefined, 'the version check to reload the missed change', 20 * INTERVAL);
      assert.equal(watch.seen.scans, 1, 'one reload repaired it');
    } finally {
      watch.stop();
      await close();
    }
  });

  it('a change whose message is on its way when the version is read costs no reload (20 rounds)', async () => {
    const prefix = redis.nextPrefix();
    const { ic, close } = await follower(prefix);
    const watch = await monitor(prefix);
    try {
      for (let round = 0; round < 20; round++) {
        const { id, message } = await putBehindTheBack(prefix, 100 + round);
        // The reader reads the version (ahead of what it heard) before the message reaches it.
        const reads = watch.seen.versionReads;
        await until(() => watch.seen.versionReads > reads, 'a version check while the message is on its way', 20 * INTERVAL);
        await redis.admin.publish(`${prefix}:changes`, message);
        await until(() => ic.get(id) !== undefined, `the published change of round ${round}`);
        assert.equal(watch.seen.scans, 0, `no reload for a message that came (round ${round})`);
      }
    } finally {
      watch.stop();
      await close();
    }
  });
});
