// RedisStore against a real redis-server on loopback: conformance, convergence of 2 and 5 instances,
// outages and restarts, and the cluster-wide times budget.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { Interceptor, StoreOutcomeUnknownError, StoreUnavailableError } from '../../src/index.js';
import { RedisStore } from '../../src/stores/redis.js';
import { testRuleStore } from '../../src/testing/index.js';
import { startDelayProxy } from '../helpers/delay-proxy.js';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';

let server: RedisServer;
let prefixes = 0;
const nextPrefix = () => `test-${process.pid}-${++prefixes}`;
before(async () => { server = await startRedis(); });
after(() => server.stop());

async function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function cluster(size: number, prefix = nextPrefix()) {
  const stores = Array.from({ length: size }, () => new RedisStore({ redis: server.url, prefix }));
  const instances = stores.map((store) => new Interceptor({ clusterStore: store }));
  const errors: unknown[] = [];
  for (const ic of instances) ic.on('error', (err) => errors.push(err));
  await Promise.all(instances.map((ic) => ic.ready()));
  const close = async () => {
    await Promise.all(instances.map((ic) => ic.close()));
    await Promise.all(stores.map((s) => s.close()));
  };
  return { instances, stores, errors, close, prefix };
}

const view = (ic: Interceptor) => JSON.stringify(ic.list().map((r) => [r.id, r.code, r.updated]).sort());

describe('RedisStore conformance', () => {
  let prefix = '';
  testRuleStore(() => new RedisStore({ redis: server.url, prefix: (prefix = nextPrefix()) }), {
    test: it,
    reopen: () => new RedisStore({ redis: server.url, prefix }),
  });
});

describe('RedisStore clusters', () => {
  for (const size of [2, 5]) {
    it(`${size} interceptors converge on every add, update, remove and expiry`, async () => {
      const { instances, close } = await cluster(size);
      try {
        const [first, second] = instances as [Interceptor, Interceptor];
        const converged = async (what: string) => until(() => instances.every((ic) => view(ic) === view(first)), what);
        await first.add({ domain: 'gmail.com', code: 421, cluster: true });
        await second.add({ pool: 'shared-pool-1', domain: 'yaho0.com', code: 553, description: 'invalid mailbox', cluster: true });
        await converged('adds');
        assert.ok(instances.every((ic) => ic.check({ recipient: 'a@gmail.com' })?.code === 421));
        await instances[size - 1]!.add({ domain: 'gmail.com', code: 550, cluster: true });
        await converged('the update');
        assert.ok(instances.every((ic) => ic.check({ recipient: 'a@gmail.com' })?.code === 550));
        await first.remove({ domain: 'gmail.com', cluster: true });
        await converged('the removal');
        assert.ok(instances.every((ic) => ic.check({ recipient: 'a@gmail.com' }) === undefined));
        await second.add({ domain: 'short.example', code: 421, cluster: true, ttl: 0.3 });
        await until(() => instances.every((ic) => ic.check({ domain: 'short.example' }) !== undefined), 'the short rule');
        await until(() => instances.every((ic) => ic.size === 1), 'the expiry everywhere');
        assert.ok(instances.every((ic) => ic.list()[0]?.domain === 'yaho0.com'));
      } finally {
        await close();
      }
    });
  }

  it('an instance whose subscription drops reloads on reconnect and misses nothing', async () => {
    const { instances, close, prefix } = await cluster(2);
    const admin = new Redis(server.url);
    try {
      const [a, b] = instances as [Interceptor, Interceptor];
      await a.add({ domain: 'before.example', code: 421, cluster: true });
      await until(() => b.size === 1, 'the first rule');
      // Drop every subscriber connection, then change rules while they reconnect.
      await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      await a.add({ domain: 'during.example', code: 421, cluster: true });
      await a.remove({ domain: 'before.example', cluster: true });
      await until(() => view(a) === view(b), 'convergence after the reconnect');
      assert.deepEqual(b.list().map((r) => r.domain), ['during.example']);
      assert.equal(await admin.hlen(`${prefix}:rules`), 1);
    } finally {
      admin.disconnect();
      await close();
    }
  });

  it('keeps serving while Redis is down, rejects cluster writes, and converges after a restart', async () => {
    const { instances, errors, close } = await cluster(3);
    try {
      const [a, b, c] = instances as [Interceptor, Interceptor, Interceptor];
      await a.add({ domain: 'gmail.com', code: 421, cluster: true });
      await until(() => instances.every((ic) => ic.size === 1), 'the rule everywhere');
      await server.kill();
      await until(() => errors.length > 0, 'an error event');
      assert.ok(errors.every((e) => e instanceof StoreUnavailableError));
      for (const ic of instances) assert.equal(ic.check({ recipient: 'x@gmail.com' })?.code, 421, 'still serving the last known rules');
      await assert.rejects(b.add({ domain: 'down.example', code: 421, cluster: true }), StoreUnavailableError);
      await assert.rejects(c.remove({ domain: 'gmail.com', cluster: true }), StoreUnavailableError);
      await b.add({ domain: 'local.example', code: 421 }); // instance rules do not need Redis
      assert.equal(b.check({ domain: 'down.example' }), undefined, 'a rejected add changes nothing');
      await server.restart();
      // Writes work again once the connections are back; every instance converges on the new rule.
      const deadline = Date.now() + 10_000;
      for (;;) {
        try {
          await c.add({ domain: 'after.example', code: 451, cluster: true });
          break;
        } catch (err) {
          assert.ok(err instanceof StoreUnavailableError);
          if (Date.now() > deadline) throw err;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      await until(() => instances.every((ic) => ic.check({ domain: 'after.example' })?.code === 451 && ic.check({ recipient: 'x@gmail.com' })?.code === 421), 'convergence after the restart', 10_000);
      assert.deepEqual(a.list().filter((r) => r.cluster).map((r) => r.domain).sort(), ['after.example', 'gmail.com']);
    } finally {
      await close();
    }
  });

  it('never exceeds a times budget under concurrent checks from 5 instances', async () => {
    const { instances, close } = await cluster(5);
    try {
      await instances[0]!.add({ domain: 'gmail.com', code: 421, cluster: true, times: 25 });
      await until(() => instances.every((ic) => ic.size === 1), 'the rule everywhere');
      let forced = 0;
      const deadline = Date.now() + 8000;
      while (instances.some((ic) => ic.size > 0) && Date.now() < deadline) {
        for (const ic of instances) for (let i = 0; i < 5; i++) if (ic.check({ domain: 'gmail.com' })) forced++;
        await new Promise((resolve) => setImmediate(resolve));
      }
      assert.equal(forced, 25);
      await until(() => instances.every((ic) => ic.size === 0), 'exhausted everywhere');
    } finally {
      await close();
    }
  });
});

describe('RedisStore: a change right after ready() reaches every instance', () => {
  /** Fresh clusters of 3, the first change made the moment every `ready()` resolved; returns the misses. */
  async function rounds(count: number, url: string, shared: boolean): Promise<string[]> {
    const misses: string[] = [];
    // As a user would write it: one ioredis client handed to every store, or a URL per store.
    const client = shared ? new Redis(url) : undefined;
    for (let round = 0; round < count; round++) {
      const prefix = nextPrefix();
      const stores: RedisStore[] = [];
      const instances: Interceptor[] = [];
      try {
        // One after the other, each awaited, as a program starting its workers would.
        for (let i = 0; i < 3; i++) {
          stores.push(new RedisStore({ redis: client ?? url, prefix }));
          instances.push(new Interceptor({ clusterStore: stores[i] }));
          await instances[i]!.ready();
        }
        await instances[0]!.add({ domain: 'hotmail.com', code: 521, cluster: true });
        const deadline = Date.now() + 1000;
        while (!instances.every((ic) => ic.check({ domain: 'hotmail.com' })?.code === 521) && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        instances.forEach((ic, i) => { if (ic.check({ domain: 'hotmail.com' })?.code !== 521) misses.push(`round ${round}: instance ${i}`); });
      } finally {
        await Promise.all(instances.map((ic) => ic.close()));
        await Promise.all(stores.map((s) => s.close()));
      }
    }
    client?.disconnect();
    return misses;
  }

  // READY_ROUNDS=<n> runs n rounds of each kind instead of 100 (docs/cluster.md records a longer run).
  it('200 rounds of 3 fresh instances, no wait between ready() and the first add: 0 misses', async () => {
    const count = Number(process.env.READY_ROUNDS ?? 100);
    assert.deepEqual(await rounds(count, server.url, true), []);
    assert.deepEqual(await rounds(count, server.url, false), []);
  });

  for (const slow of ['subscribers', 'commands'] as const) {
    it(`the same with the ${slow} slowed down by a delaying proxy: 0 misses`, async () => {
      const proxy = await startDelayProxy(server.port, 10, slow);
      try {
        assert.deepEqual([...await rounds(20, proxy.url, true), ...await rounds(20, proxy.url, false)], []);
      } finally {
        await proxy.close();
      }
    });
  }
});

describe('RedisStore: writes whose outcome is unknown', () => {
  it('a write answered too late rejects with StoreOutcomeUnknownError, never as "not applied"; it reaches every instance if it was applied', async () => {
    const proxy = await startDelayProxy(server.port, 0, 'commands');
    const prefix = nextPrefix();
    const slow = new RedisStore({ redis: proxy.url, prefix, commandTimeoutMs: 200 });
    const other = new RedisStore({ redis: server.url, prefix });
    const [a, b] = [new Interceptor({ clusterStore: slow }), new Interceptor({ clusterStore: other })];
    const admin = new Redis(server.url);
    try {
      await a.ready();
      await b.ready();
      proxy.setDelay(500); // Redis runs the write; its answer comes after the 200 ms timeout
      await assert.rejects(a.add({ domain: 'gmail.com', code: 421, cluster: true }), (err: Error) => err instanceof StoreOutcomeUnknownError && err instanceof StoreUnavailableError && /may have been applied/.test(err.message));
      assert.equal(await admin.hlen(`${prefix}:rules`), 1, 'it was applied');
      await until(() => a.check({ domain: 'gmail.com' })?.code === 421 && b.check({ domain: 'gmail.com' })?.code === 421, 'the applied write on every instance');
      proxy.setDelay(0);
      await server.kill();
      // Certainly not sent: an ordinary StoreUnavailableError.
      await assert.rejects(b.add({ domain: 'down.example', code: 421, cluster: true }), (err: Error) => err instanceof StoreUnavailableError && !(err instanceof StoreOutcomeUnknownError));
    } finally {
      await server.restart();
      admin.disconnect();
      await Promise.all([a.close(), b.close()]);
      await Promise.all([slow.close(), other.close()]);
      await proxy.close();
    }
  });
});

describe('RedisStore: times budgets when answers are lost', () => {
  it('a reservation whose answer is lost is repeated, never counted twice: times 3 forces exactly 3', async () => {
    const proxy = await startDelayProxy(server.port, 0, 'commands');
    const store = new RedisStore({ redis: proxy.url, prefix: nextPrefix(), commandTimeoutMs: 200 });
    const ic = new Interceptor({ clusterStore: store });
    const errors: unknown[] = [];
    ic.on('error', (err) => errors.push(err));
    try {
      await ic.ready();
      await ic.add({ domain: 'gmail.com', code: 421, cluster: true, times: 3 }); // holds one application
      proxy.setDelay(500); // the next reservation (reporting this use) runs in Redis, its answer comes too late
      let forced = ic.check({ domain: 'gmail.com' }) ? 1 : 0;
      await until(() => errors.some((e) => e instanceof StoreOutcomeUnknownError), 'the unknown outcome reported');
      proxy.setDelay(0);
      await until(() => {
        if (ic.check({ domain: 'gmail.com' })) forced++;
        return ic.size === 0;
      }, 'the budget used up', 10_000);
      assert.equal(forced, 3);
    } finally {
      await ic.close();
      await store.close();
      await proxy.close();
    }
  });
});

describe('RedisStore: a times budget across a Redis restart', () => {
  it('times 60 on 3 instances with Redis killed and restarted mid-run forces exactly 60', async () => {
    const { instances, close } = await cluster(3);
    try {
      await instances[0]!.add({ domain: 'gmail.com', code: 421, cluster: true, times: 60 });
      await until(() => instances.every((ic) => ic.size === 1), 'the rule everywhere');
      let forced = 0;
      const round = async () => {
        for (const ic of instances) for (let i = 0; i < 3; i++) if (ic.check({ domain: 'gmail.com' })) forced++;
        await new Promise((resolve) => setTimeout(resolve, 2));
      };
      while (forced < 25) await round();
      await server.kill();
      for (let i = 0; i < 20; i++) await round();
      await server.restart();
      const deadline = Date.now() + 20_000;
      while (instances.some((ic) => ic.size > 0) && Date.now() < deadline) await round();
      assert.equal(forced, 60);
    } finally {
      await close();
    }
  });
});

describe('RedisStore outages', () => {
  it('each instance raises exactly one error event per Redis outage, with checks, budgets and writes during it', async () => {
    const { instances, errors, close } = await cluster(2);
    const perInstance = instances.map(() => 0);
    instances.forEach((ic, i) => ic.on('error', () => { perInstance[i]!++; }));
    const [a, b] = instances as [Interceptor, Interceptor];
    try {
      await a.add({ domain: 'budget.example', code: 421, cluster: true, times: 1000 });
      await until(() => b.size === 1, 'the rule on b');
      const outages = 3;
      for (let outage = 1; outage <= outages; outage++) {
        await server.kill();
        await until(() => perInstance.every((n) => n >= outage), `an error on every instance in outage ${outage}`);
        // While down: checks that need reservations, failed writes, time for reconnection attempts.
        for (let i = 0; i < 20; i++) {
          for (const ic of instances) ic.check({ domain: 'budget.example' });
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
        await assert.rejects(b.add({ domain: 'down.example', code: 421, cluster: true }), StoreUnavailableError);
        await server.restart();
        const marker = `back-${outage}.example`;
        for (const deadline = Date.now() + 10_000; ;) {
          try {
            await a.add({ domain: marker, code: 421, cluster: true });
            break;
          } catch (err) {
            if (Date.now() > deadline) throw err;
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        }
        await until(() => b.check({ domain: marker }) !== undefined, 'b back', 10_000);
        for (const ic of instances) ic.check({ domain: 'budget.example' }); // reservations work again
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.deepEqual(perInstance, instances.map(() => outages), `errors: ${errors.map((e) => (e as Error).message).join(' | ')}`);
    } finally {
      await close();
    }
  });
});
