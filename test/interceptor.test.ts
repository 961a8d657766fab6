import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Interceptor, type RemovalReason, type Rule, SmtpInterceptError, ValidationError } from '../src/index.js';

function clock(start = Date.parse('2026-01-01T00:00:00Z')) {
  let t = start;
  return { now: () => t, advance: (ms: number) => { t += ms; } };
}

describe('Interceptor: rule management', () => {
  it('upserts by selector: same id, created and hits kept, reply replaced', async () => {
    const c = clock();
    const ic = new Interceptor({ now: c.now });
    const first = await ic.add({ domain: 'gmail.com', code: 421 });
    ic.check({ domain: 'gmail.com' });
    c.advance(1000);
    const second = await ic.add({ domain: 'GMAIL.com.', code: 550, description: 'gone' });
    assert.equal(second.id, first.id);
    assert.equal(second.created, first.created);
    assert.equal(second.updated, first.updated + 1000);
    assert.equal(second.hits, 1);
    assert.equal(ic.size, 1);
    assert.equal(ic.check({ domain: 'gmail.com' })?.reply, '550 5.0.0 gone');
  });

  it('derives ids from the selector only, deterministically across instances', async () => {
    const a = await new Interceptor().add({ domain: 'gmail.com', code: 421, cluster: true });
    const b = await new Interceptor().add({ domain: 'Gmail.com', code: 550, cluster: 'true', description: 'x' });
    const c = await new Interceptor().add({ domain: 'gmail.com', code: 421 });
    assert.equal(a.id, b.id);
    assert.notEqual(a.id, c.id, 'cluster is part of the selector');
    assert.match(a.id, /^[0-9a-f]{20}$/);
  });

  it('tells the id of a selector before the rule exists', async () => {
    const ic = new Interceptor();
    const id = ic.idOf({ domain: 'Gmail.com', cluster: 'true' });
    assert.equal(ic.get(id), undefined);
    assert.equal((await ic.add({ domain: 'gmail.com', cluster: true, code: 421 })).id, id);
    assert.throws(() => ic.idOf({ domain: 'gmail.com', pool: 'p', mta: '1.2.3.4' }), ValidationError);
  });

  it('removes by selector (code optional and ignored), get and list by id', async () => {
    const ic = new Interceptor();
    const rule = await ic.add({ cluster: true, code: 421, domain: 'gmail.com' });
    assert.equal(ic.get(rule.id), rule);
    assert.equal(await ic.remove({ domain: 'gmail.com' }), undefined, 'instance selector differs from cluster');
    assert.equal(await ic.remove({ cluster: 'true', code: 599, domain: 'gmail.com' }), rule);
    assert.equal(ic.get(rule.id), undefined);
    assert.equal(await ic.remove({ cluster: true, domain: 'gmail.com' }), undefined);
    await assert.rejects(ic.remove({ domain: 'gmail.com', mta: 'x' }), ValidationError);
  });

  it('lists in insertion order with filters on selector fields and cluster', async () => {
    const ic = new Interceptor();
    const a = await ic.add({ domain: 'gmail.com', code: 421 });
    const b = await ic.add({ domain: 'gmail.com', pool: 'p1', code: 421, cluster: true });
    const c = await ic.add({ ip: '10.0.0.0/8', code: 550 });
    const d = await ic.add({ tag: 'Campaign1', code: 550 });
    await ic.add({ domain: 'gmail.com', code: 450 }); // update keeps its place
    assert.deepEqual(ic.list().map((r) => r.id), [a.id, b.id, c.id, d.id]);
    assert.deepEqual(ic.list({ domain: 'GMAIL.COM' }).map((r) => r.id), [a.id, b.id]);
    assert.deepEqual(ic.list({ domain: 'gmail.com', cluster: 'false' }).map((r) => r.id), [a.id]);
    assert.deepEqual(ic.list({ cluster: true }).map((r) => r.id), [b.id]);
    assert.deepEqual(ic.list({ ip: '10.0.0.0/8' }).map((r) => r.id), [c.id]);
    assert.deepEqual(ic.list({ tag: 'Campaign1' }).map((r) => r.id), [d.id]);
    assert.deepEqual(ic.list({ domain: 'gmail.com', ip: '10.0.0.0/8' }), []);
    assert.throws(() => ic.list({ code: 421 } as never), (err: ValidationError) => err.code === 'unknown_field' && err.param === 'code');
    assert.throws(() => ic.list({ mta: 'nope' }), (err: ValidationError) => err.param === 'mta');
  });

  it('clears by scope and reports how many were removed', async () => {
    const ic = new Interceptor();
    const removed: [string, RemovalReason][] = [];
    ic.on('rule:removed', (rule, reason) => removed.push([rule.id, reason]));
    await ic.add({ domain: 'a.com', code: 421 });
    await ic.add({ domain: 'b.com', code: 421, cluster: true });
    await ic.add({ domain: 'c.com', code: 421, cluster: true });
    assert.equal(await ic.clear('cluster'), 2);
    assert.equal(ic.size, 1);
    assert.equal(await ic.clear('instance'), 1);
    assert.equal(await ic.clear(), 0);
    assert.deepEqual(removed.map(([, reason]) => reason), ['cleared', 'cleared', 'cleared']);
    await assert.rejects(ic.clear('everything' as never), ValidationError);
  });

  it('emits rule:added, rule:updated and rule:removed', async () => {
    const ic = new Interceptor();
    const events: string[] = [];
    ic.on('rule:added', (r) => events.push(`added ${r.code}`));
    ic.on('rule:updated', (r, prev) => events.push(`updated ${prev.code}->${r.code}`));
    ic.on('rule:removed', (r, reason) => events.push(`removed ${r.code} ${reason}`));
    await ic.add({ domain: 'a.com', code: 421 });
    await ic.add({ domain: 'a.com', code: 550 });
    await ic.remove({ domain: 'a.com' });
    assert.deepEqual(events, ['added 421', 'updated 421->550', 'removed 550 deleted']);
  });

  it('rejects mutations after close but keeps answering check', async () => {
    const ic = new Interceptor();
    await ic.add({ domain: 'a.com', code: 421 });
    await ic.close();
    await assert.rejects(ic.add({ domain: 'b.com', code: 421 }), (err: SmtpInterceptError) => err.code === 'closed');
    assert.equal(ic.check({ domain: 'a.com' })?.code, 421);
  });

  it('validates its options', () => {
    assert.throws(() => new Interceptor({ seed: 1, random: Math.random }), (err: ValidationError) => err.code === 'mutually_exclusive');
    assert.throws(() => new Interceptor({ cacheSize: -1 }), (err: ValidationError) => err.param === 'cacheSize');
  });
});

describe('Interceptor: check', () => {
  it('builds the forced result: reply line, outcome, retryable, defaults', async () => {
    const ic = new Interceptor();
    await ic.add({ domain: 'a.com', code: 421 });
    await ic.add({ domain: 'b.com', code: 550, extended: '5.7.1', description: 'blocked', phase: 'data', delay: 250 });
    await ic.add({ domain: 'c.com', code: 250 });
    const a = ic.check({ recipient: 'x@a.com' })!;
    assert.deepEqual([a.code, a.extended, a.description, a.reply, a.outcome, a.retryable, a.phase, a.delay],
      [421, '4.0.0', 'forced deferring', '421 4.0.0 forced deferring', 'deferred', true, 'rcpt', 0]);
    const b = ic.check({ recipient: 'x@b.com' })!;
    assert.deepEqual([b.reply, b.outcome, b.retryable, b.phase, b.delay], ['550 5.7.1 blocked', 'failed', false, 'data', 250]);
    const c = ic.check({ recipient: 'x@c.com' })!;
    assert.deepEqual([c.reply, c.outcome, c.retryable], ['250 2.0.0 forced accept', 'accepted', false]);
    assert.equal(c.rule.domain, 'c.com');
    assert.ok(Object.isFrozen(c));
    assert.equal(ic.check({ recipient: 'x@d.com' }), undefined);
  });

  it('counts hits and consumes times: fail twice, then pass', async () => {
    const ic = new Interceptor();
    const reasons: RemovalReason[] = [];
    ic.on('rule:removed', (_r, reason) => reasons.push(reason));
    const rule = await ic.add({ domain: 'gmail.com', code: 421, times: 2 });
    const outcomes = [1, 2, 3].map(() => ic.check({ recipient: 'bob@gmail.com' })?.code);
    assert.deepEqual(outcomes, [421, 421, undefined]);
    assert.equal(rule.hits, 2);
    assert.equal(rule.times, 0);
    assert.equal(ic.size, 0);
    assert.deepEqual(reasons, ['exhausted']);
  });

  it('falls through to the next candidate when a probability draw fails', async () => {
    const draws = [0.9, 0.1];
    const ic = new Interceptor({ random: () => draws.shift() ?? 0 });
    await ic.add({ recipient: 'bob@gmail.com', code: 550, probability: 0.5 });
    await ic.add({ domain: 'gmail.com', code: 421 });
    assert.equal(ic.check({ recipient: 'bob@gmail.com' })?.code, 421, 'draw 0.9 >= 0.5: the recipient rule is skipped');
    assert.equal(ic.check({ recipient: 'bob@gmail.com' })?.code, 550, 'draw 0.1 < 0.5: it applies');
  });

  it('reproduces probability sequences with a seed', async () => {
    const run = async (seed: number) => {
      const ic = new Interceptor({ seed });
      await ic.add({ domain: 'gmail.com', code: 421, probability: 0.3 });
      return Array.from({ length: 200 }, () => (ic.check({ domain: 'gmail.com' }) ? 1 : 0)).join('');
    };
    assert.equal(await run(42), await run(42));
    assert.notEqual(await run(42), await run(43));
    const hits = [...(await run(7))].filter((c) => c === '1').length;
    assert.ok(hits > 30 && hits < 90, `about 30% of 200 forced, got ${hits}`);
  });

  it('honours expires with the injected clock and removes expired rules', async () => {
    const c = clock();
    const ic = new Interceptor({ now: c.now });
    const reasons: RemovalReason[] = [];
    ic.on('rule:removed', (_r, reason) => reasons.push(reason));
    const rule = await ic.add({ domain: 'gmail.com', code: 421, ttl: 60 });
    await ic.add({ domain: 'gmail.com', pool: 'p', code: 550, expires: new Date(c.now() + 120_000).toISOString() });
    assert.equal(ic.check({ pool: 'p', domain: 'gmail.com' })?.code, 550);
    c.advance(120_000);
    assert.equal(ic.get(rule.id), undefined, 'expired rules are not returned');
    assert.equal(ic.list().length, 0);
    assert.equal(ic.check({ pool: 'p', domain: 'gmail.com' }), undefined);
    assert.equal(ic.size, 0);
    assert.deepEqual(reasons, ['expired', 'expired']);
  });

  it('sweeps expired rules with a timer even without checks', async () => {
    const ic = new Interceptor();
    const removed = new Promise<[Rule, RemovalReason]>((resolve) => ic.on('rule:removed', (r, reason) => resolve([r, reason])));
    await ic.add({ domain: 'gmail.com', code: 421, ttl: 0.05 });
    // The sweep timer is unref'd (it must not keep a process alive), so hold the loop open while waiting.
    const guard = new AbortController();
    const timeout = sleep(2000, undefined, { signal: guard.signal }).then(() => assert.fail('not swept within 2 s'), () => undefined);
    const [rule, reason] = (await Promise.race([removed, timeout]))!;
    guard.abort();
    assert.equal(rule.domain, 'gmail.com');
    assert.equal(reason, 'expired');
    assert.equal(ic.size, 0);
    await ic.close();
  });

  it('matches phases: an attempt naming a phase only sees rules of that phase', async () => {
    const ic = new Interceptor();
    await ic.add({ domain: 'a.com', code: 421, phase: 'connect' });
    assert.equal(ic.check({ domain: 'a.com', phase: 'rcpt' }), undefined);
    assert.equal(ic.check({ domain: 'a.com', phase: 'connect' })?.phase, 'connect');
  });

  it('sees changes immediately despite the cache (misses are cached and invalidated)', async () => {
    const ic = new Interceptor();
    assert.equal(ic.check({ recipient: 'bob@gmail.com' }), undefined);
    await ic.add({ domain: 'gmail.com', code: 421 });
    assert.equal(ic.check({ recipient: 'bob@gmail.com' })?.code, 421);
    await ic.add({ domain: 'gmail.com', code: 550 });
    assert.equal(ic.check({ recipient: 'bob@gmail.com' })?.code, 550);
    await ic.remove({ domain: 'gmail.com' });
    assert.equal(ic.check({ recipient: 'bob@gmail.com' }), undefined);
  });

  it('keeps cached attempts apart when only one field differs', async () => {
    const ic = new Interceptor();
    await ic.add({ pool: 'p1', domain: 'gmail.com', code: 421 });
    await ic.add({ tag: 'c1', code: 550 });
    const base = { recipient: 'bob@gmail.com' };
    for (let round = 0; round < 2; round++) {
      assert.equal(ic.check({ ...base, pool: 'p1' })?.code, 421);
      assert.equal(ic.check({ ...base, pool: 'p2' }), undefined);
      assert.equal(ic.check({ ...base, tags: ['c1'] })?.code, 550);
      assert.equal(ic.check({ ...base, tags: 'c1' })?.code, 550);
      assert.equal(ic.check({ ...base, tags: ['c2'] }), undefined);
      assert.equal(ic.check({ ...base, pool: 'p1', phase: 'data' }), undefined);
      assert.equal(ic.check(base), undefined);
    }
    // More variants of one recipient than the cache keeps per key: still correct.
    for (let i = 0; i < 20; i++) assert.equal(ic.check({ ...base, tags: [`x${i}`, i % 2 === 0 ? 'c1' : 'c2'] })?.code, i % 2 === 0 ? 550 : undefined);
  });

  it('is not fooled by a tags array mutated after a check', async () => {
    const ic = new Interceptor();
    await ic.add({ tag: 'c1', code: 550 });
    const attempt = { recipient: 'bob@gmail.com', tags: ['c1'] };
    assert.equal(ic.check(attempt)?.code, 550);
    attempt.tags[0] = 'c2';
    assert.equal(ic.check(attempt), undefined);
  });

  it('works with the cache disabled', async () => {
    const ic = new Interceptor({ cacheSize: 0 });
    await ic.add({ domain: 'gmail.com', code: 421 });
    assert.equal(ic.check({ recipient: 'bob@gmail.com' })?.code, 421);
  });

  it('emits match with the result and the attempt', async () => {
    const ic = new Interceptor();
    await ic.add({ tag: 'c1', code: 550 });
    const seen: string[] = [];
    ic.on('match', (result, attempt) => seen.push(`${result.code} ${JSON.stringify(attempt.tags)}`));
    ic.check({ tags: 'c1' });
    ic.check({ tags: ['c2'] });
    assert.deepEqual(seen, ['550 "c1"']);
  });

  it('rejects malformed attempts with a ValidationError naming the field', () => {
    const ic = new Interceptor();
    for (const [attempt, param] of [[{ ip: 'nope' }, 'ip'], [{ mta: '1.2.3.4.5' }, 'mta'], [{ recipient: 'bob' }, 'recipient'],
      [{ tags: [1] }, 'tags'], [{ phase: 'helo' }, 'phase'], [{ pool: 5 }, 'pool'], [{ domain: 'a\r\nb' }, 'domain']] as const) {
      assert.throws(() => ic.check(attempt as never), (err: ValidationError) => err instanceof ValidationError && err.param === param, JSON.stringify(attempt));
    }
  });
});

describe('Interceptor: explain', () => {
  it('lists candidates in precedence order without side effects', async () => {
    const ic = new Interceptor({ random: () => 0.99 });
    const general = await ic.add({ domain: 'gmail.com', code: 421, times: 1 });
    const specific = await ic.add({ domain: 'gmail.com', pool: 'p', code: 550, probability: 0.5 });
    const { winner, candidates } = ic.explain({ pool: 'p', recipient: 'x@gmail.com' });
    assert.equal(winner, specific);
    assert.deepEqual(candidates, [specific, general]);
    assert.equal(general.hits, 0);
    assert.equal(general.times, 1);
    assert.deepEqual(ic.explain({ recipient: 'x@other.com' }), { winner: undefined, candidates: [], gates: [] });
  });
});

describe('Interceptor: hostile keys', () => {
  for (const value of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
    it(`handles "${value}" as pool, tag and domain label`, async () => {
      const ic = new Interceptor();
      await ic.add({ pool: value, code: 421 });
      await ic.add({ tag: value, code: 550 });
      await ic.add({ domain: `${value.toLowerCase()}.com`, code: 451 });
      assert.equal(ic.check({ pool: value })?.code, 421);
      assert.equal(ic.check({ tags: [value] })?.code, 550);
      assert.equal(ic.check({ domain: `${value}.com` })?.code, 451);
      assert.equal(ic.check({ pool: 'other', tags: ['other'] }), undefined);
      assert.equal(ic.list({ pool: value }).length, 1);
      assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
    });
  }

  it('handles very long and unusual values', async () => {
    const ic = new Interceptor();
    const long = 'x'.repeat(256);
    const label = 'a'.repeat(63);
    const domain = `${label}.${label}.${label}.${'b'.repeat(61)}`;
    await ic.add({ tag: long, code: 421 });
    await ic.add({ domain, code: 550 });
    await ic.add({ pool: 'pool with spaces & ünïcode 🚀', code: 451 });
    assert.equal(ic.check({ tags: long })?.code, 421);
    assert.equal(ic.check({ domain })?.code, 550);
    assert.equal(ic.check({ pool: 'pool with spaces & ünïcode 🚀' })?.code, 451);
    await assert.rejects(ic.add({ tag: 'x'.repeat(257), code: 421 }), (err: ValidationError) => err.code === 'out_of_range');
  });
});
