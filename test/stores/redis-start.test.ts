// RedisStore's start-up and reloads against a real redis-server on loopback, watched through MONITOR
// (which reports every command Redis runs, in the order it runs them): one ready() scans the rule hash
// once, with or without another client writing meanwhile, and a subscription restored while a reload is
// in flight still gets a reload of its own.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { Interceptor, type RuleJSON } from '../../src/index.js';
import { RedisStore } from '../../src/stores/redis.js';
import { SCAN_BATCH } from '../../src/stores/redis-snapshot.js';
import { storedAt } from '../../bench/workload.js';
import { startDelayProxy } from '../helpers/delay-proxy.js';
import { until, useRedisSuite } from '../helpers/redis-suite.js';

const redis = useRedisSuite('start');
const nextPrefix = redis.nextPrefix;

/** Every command Redis runs from now on, as its arguments (lower-case command name first). */
async function monitor(each?: (command: readonly string[]) => void): Promise<{ commands: string[][]; seen: () => Promise<void>; stop: () => void }> {
  const base = new Redis(redis.server.url);
  const client = await base.monitor(); // a connection of its own
  const commands: string[][] = [];
  let marks = 0;
  client.on('monitor', (_time: string, args: string[]) => {
    const command = [args[0]!.toLowerCase(), ...args.slice(1)];
    commands.push(command);
    each?.(command);
  });
  return {
    commands,
    // Redis feeds a monitor in the order it runs commands: once a marker sent now is seen, so is everything before it.
    seen: async () => {
      const mark = `mark-${++marks}`;
      await redis.admin.echo(mark);
      await until(() => commands.some((c) => c[0] === 'echo' && c[1] === mark), 'the monitor to catch up');
    },
    stop: () => { client.disconnect(); base.disconnect(); },
  };
}

/** How many full scans of `key` began (an `HSCAN` from cursor 0). */
const scansOf = (commands: readonly string[][], key: string) => commands.filter((c) => c[0] === 'hscan' && c[1] === key && c[2] === '0').length;

async function fill(prefix: string, size: number): Promise<RuleJSON[]> {
  const rules = Array.from({ length: size }, (_, i) => storedAt(i, true));
  for (let start = 0; start < size; start += 5_000) {
    await redis.admin.hset(`${prefix}:rules`, ...rules.slice(start, start + 5_000).flatMap((r) => [r.id, JSON.stringify(r)]));
  }
  await redis.admin.set(`${prefix}:version`, '1');
  return rules;
}

describe('RedisStore start-up', () => {
  it('one ready() scans the rule hash once: 15 rounds idle and 15 while another client writes, nothing lost or out of order', async () => {
    const prefix = nextPrefix();
    const size = 2 * SCAN_BATCH + 1; // a scan of several batches: a window for writes
    const rules = await fill(prefix, size);
    const watch = await monitor();
    const writer = new RedisStore({ redis: redis.server.url, prefix });
    const extra = Array.from({ length: 20 }, (_, k) => storedAt(size + k, true));
    let writes = 0;
    let stop = true;
    let writing: Promise<void> = Promise.resolve();
    const startWriting = () => {
      stop = false;
      writing = (async () => {
        for (; !stop; writes++) {
          // An unknown outcome may or may not be in the hash: the comparison below reads the hash.
          if (writes % 4 === 3) await writer.delete([rules[(writes * 7919) % size]!.id]).catch(() => undefined);
          else await writer.put({ ...extra[writes % 20]!, description: `w${writes}`, revision: `w.${writes}` }).catch(() => undefined);
          await new Promise((resolve) => setImmediate(resolve));
        }
      })();
    };
    try {
      for (let round = 0; round < 30; round++) {
        const busy = round >= 15;
        if (busy && stop) startWriting();
        const store = new RedisStore({ redis: redis.server.url, prefix, commandTimeoutMs: 10_000, checkIntervalMs: 60_000 });
        const ic = new Interceptor({ clusterStore: store });
        const seen = new Map<string, number>();
        const regressions: string[] = [];
        const heard = (rule: { id: string; description: string | readonly string[] | undefined }) => {
          const n = typeof rule.description === 'string' && rule.description.startsWith('w') ? Number(rule.description.slice(1)) : -1;
          if (n < 0) return;
          if (n <= (seen.get(rule.id) ?? -1)) regressions.push(`round ${round}, ${rule.id}: w${n} after w${seen.get(rule.id)}`);
          seen.set(rule.id, n);
        };
        ic.on('rule:added', heard).on('rule:updated', heard);
        try {
          const from = watch.commands.length;
          const writesBefore = writes;
          await ic.ready();
          const during = writes - writesBefore;
          await watch.seen();
          assert.equal(scansOf(watch.commands.slice(from), `${prefix}:rules`), 1, `round ${round}: scans of the rule hash for one ready()`);
          if (busy) assert.ok(during > 0, `round ${round}: changes were made during ready()`);
          // The writer pauses; the instance must then hold exactly what the hash holds.
          stop = true;
          await writing;
          const want = new Map(Object.entries(await redis.admin.hgetall(`${prefix}:rules`)).map(([id, text]) => [id, (JSON.parse(text) as RuleJSON).description]));
          await until(() => ic.size === want.size && [...want].every(([id, description]) => ic.get(id)?.description === description), `round ${round}: the instance to hold the hash`);
          assert.deepEqual(regressions, []);
        } finally {
          await ic.close();
          await store.close();
        }
      }
    } finally {
      stop = true;
      await writing;
      watch.stop();
      await writer.close();
    }
  });

  it('a subscription restored while a reload is in flight still triggers a reload of its own', async () => {
    // Replies to the store's commands come 300 ms late, so a reload spans seconds; the subscriber is not slowed.
    const proxy = await startDelayProxy(redis.server.port, 300, 'commands');
    const prefix = nextPrefix();
    const [hitsKey, usedKey] = [`${prefix}:hits`, `${prefix}:used`];
    await fill(prefix, 10);
    // Saved hits of several batches: the reload goes on for a while after its snapshot of the rules is taken.
    for (let start = 0; start < 8 * SCAN_BATCH; start += 5_000) {
      await redis.admin.hset(hitsKey, ...Array.from({ length: 5_000 }, (_, i) => [`h${start + i}`, '1']).flat());
    }
    // No periodic version check within the test: only a reload after the subscription can repair the gap.
    const store = new RedisStore({ redis: proxy.url, prefix, commandTimeoutMs: 10_000, checkIntervalMs: 600_000 });
    const writer = new RedisStore({ redis: redis.server.url, prefix });
    const ic = new Interceptor({ clusterStore: store });
    const rule = { ...storedAt(100, true), description: 'written while unsubscribed', revision: 'missed.1' };
    let armed = false;
    let missed: Promise<void> | undefined;
    // Once a reload has its snapshot of the rules (it is scanning the saved hits), the subscription is
    // dropped and a rule written while no subscriber listens: only a later reload can bring it.
    const watch = await monitor((command) => {
      if (!armed || missed || command[0] !== 'hscan' || command[1] !== hitsKey || command[2] !== '0') return;
      missed = (async () => {
        await redis.admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
        await writer.put(rule);
      })();
    });
    try {
      await ic.ready();
      const from = watch.commands.length;
      armed = true;
      await redis.admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub'); // the resubscription reloads: that reload is the one in flight
      await until(() => missed !== undefined, 'a reload scanning the saved hits', 10_000);
      await missed;
      await until(() => ic.get(rule.id)?.description === rule.description, 'the rule written while unsubscribed', 10_000);
      await watch.seen();
      const run = watch.commands.slice(from);
      const dropped = run.findIndex((c) => c[0] === 'hscan' && c[1] === hitsKey && c[2] === '0');
      const subscribed = run.findIndex((c, i) => i > dropped && c[0] === 'subscribe');
      const counters = run.findIndex((c, i) => i > dropped && c[0] === 'hscan' && c[1] === usedKey && c[2] === '0');
      assert.ok(dropped >= 0 && subscribed > dropped && counters > subscribed,
        `the race was set up: subscribed again (command ${subscribed}) after the drop (${dropped}) while that reload was still reading counters (${counters})`);
    } finally {
      watch.stop();
      await ic.close();
      await Promise.all([store.close(), writer.close()]);
      await proxy.close();
    }
  });
});
