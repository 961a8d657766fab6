// The fault rule model through the public API: validation naming the field, the forced result, JSON.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Interceptor, restoreRule, type RuleInput, ValidationError } from '../src/index.js';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const fresh = () => new Interceptor({ now: () => NOW, seed: 3 });

async function problems(input: unknown): Promise<[string, string | undefined][]> {
  try {
    await fresh().add(input as RuleInput);
  } catch (err) {
    assert.ok(err instanceof ValidationError, `expected ValidationError, got ${String(err)}`);
    return err.details.map((d) => [d.code, d.param]);
  }
  assert.fail('expected the input to be rejected');
}

describe('fault rules', () => {
  it('a fault replaces code; the result has the fault, no reply, and is deferred', async () => {
    const ic = fresh();
    await ic.add({ domain: 'example.com', fault: 'disconnect', phase: 'data' });
    const result = ic.check({ recipient: 'a@example.com', phase: 'data' });
    assert.deepEqual(result?.fault, { kind: 'disconnect', afterBytes: undefined });
    assert.equal(result?.outcome, 'deferred');
    assert.equal(result?.retryable, true);
    assert.equal(result?.reply, undefined);
    assert.equal(result?.code, undefined);
    assert.ok(Object.isFrozen(result) && Object.isFrozen(result?.fault));
  });

  it('every kind with its options, as JSON and urlencoded-style strings', async () => {
    const cases: [RuleInput, unknown][] = [
      [{ fault: 'reset', phase: 'data', afterBytes: '100' }, { kind: 'reset', afterBytes: 100 }],
      [{ fault: 'hang', delay: 50 }, { kind: 'hang' }],
      [{ fault: 'throttle', bytesPerSecond: '20' }, { kind: 'throttle', bytesPerSecond: 20 }],
      [{ fault: 'tls', tls: 'refuse', description: 'not today' }, { kind: 'tls', tls: 'refuse' }],
    ];
    for (const [input, fault] of cases) {
      const rule = await fresh().add({ domain: 'example.com', ...input });
      assert.deepEqual(rule.fault, fault, JSON.stringify(input));
    }
  });

  it('a tls fault happens at STARTTLS: its phase is connect', async () => {
    const rule = await fresh().add({ ip: '127.0.0.1', fault: 'tls', tls: 'fail' });
    assert.equal(rule.phase, 'connect');
    assert.deepEqual(await problems({ ip: '127.0.0.1', fault: 'tls', tls: 'fail', phase: 'rcpt' }), [['mutually_exclusive', 'phase']]);
  });

  it('rejects a reply and a fault together, naming each field', async () => {
    assert.deepEqual(await problems({ domain: 'x.org', fault: 'reset', code: 421, extended: '4.0.0' }),
      [['mutually_exclusive', 'code'], ['mutually_exclusive', 'extended']]);
    assert.deepEqual(await problems({ domain: 'x.org', fault: 'reset', description: 'why' }), [['mutually_exclusive', 'description']]);
    assert.deepEqual(await problems({ domain: 'x.org', fault: 'tls', tls: 'fail', description: 'why' }), [['mutually_exclusive', 'description']]);
  });

  it('rejects options without their fault, missing options and bad values', async () => {
    assert.deepEqual(await problems({ domain: 'x.org', code: 421, afterBytes: 5, bytesPerSecond: 1, tls: 'fail' }),
      [['mutually_exclusive', 'afterBytes'], ['mutually_exclusive', 'bytesPerSecond'], ['mutually_exclusive', 'tls']]);
    assert.deepEqual(await problems({ domain: 'x.org', fault: 'throttle' }), [['required', 'bytesPerSecond']]);
    assert.deepEqual(await problems({ domain: 'x.org', fault: 'tls' }), [['required', 'tls']]);
    assert.deepEqual(await problems({ domain: 'x.org', fault: 'explode' }), [['invalid_format', 'fault']]);
    assert.deepEqual(await problems({ domain: 'x.org', fault: 'tls', tls: 'maybe' }), [['invalid_format', 'tls']]);
    assert.deepEqual(await problems({ domain: 'x.org', fault: 'throttle', bytesPerSecond: 0 }), [['out_of_range', 'bytesPerSecond']]);
    assert.deepEqual(await problems({ domain: 'x.org', fault: 'reset', afterBytes: 10 }), [['mutually_exclusive', 'afterBytes']]);
    assert.deepEqual(await problems({ domain: 'x.org', fault: 'reset', phase: 'data', afterBytes: -1 }), [['out_of_range', 'afterBytes']]);
    assert.deepEqual(await problems({ domain: 'x.org' }), [['required', 'code']]);
  });

  it('times, probability and priority work as for replies: drop once, then accept', async () => {
    const ic = fresh();
    await ic.add({ domain: 'example.com', fault: 'disconnect', phase: 'data', times: 1, priority: 5 });
    await ic.add({ domain: 'example.com', tag: 'x', code: 550, phase: 'data' });
    const attempt = { recipient: 'a@example.com', tags: ['x'], phase: 'data' } as const;
    assert.equal(ic.check(attempt)?.fault?.kind, 'disconnect');
    assert.equal(ic.check(attempt)?.code, 550);
    await ic.add({ domain: 'p.example', fault: 'reset', probability: 0.5 });
    const draws = Array.from({ length: 200 }, () => ic.check({ recipient: 'a@p.example' })?.fault?.kind);
    const hits = draws.filter((k) => k === 'reset').length;
    assert.ok(hits > 60 && hits < 140, `seeded draws: ${hits}`);
  });

  it('JSON omits code and round-trips through restoreRule', async () => {
    const rule = await fresh().add({ domain: 'example.com', fault: 'reset', phase: 'data', afterBytes: 10, times: 2 });
    const json = rule.toJSON();
    assert.equal(json.code, undefined);
    assert.deepEqual([json.fault, json.afterBytes, json.phase, json.times], ['reset', 10, 'data', 2]);
    const restored = restoreRule(JSON.parse(JSON.stringify(json)), NOW)!;
    assert.deepEqual(restored.fault, rule.fault);
    const tls = (await fresh().add({ ip: '10.0.0.1', fault: 'tls', tls: 'refuse', description: 'later' })).toJSON();
    assert.deepEqual([tls.fault, tls.tls, tls.description, tls.phase], ['tls', 'refuse', 'later', 'connect']);
    const throttle = (await fresh().add({ ip: '10.0.0.1', fault: 'throttle', bytesPerSecond: 7 })).toJSON();
    assert.equal(throttle.bytesPerSecond, 7);
  });

  it('a rule without a fault is unchanged (shared default options)', async () => {
    const rule = await fresh().add({ domain: 'example.com', code: 421 });
    assert.equal(rule.fault, undefined);
    assert.equal(fresh().check({ recipient: 'a@example.com' }), undefined);
  });
});
