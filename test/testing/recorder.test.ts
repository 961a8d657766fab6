import assert from 'node:assert/strict';
import { AssertionError } from 'node:assert';
import { describe, it } from 'node:test';
import { Interceptor } from '../../src/index.js';
import { record } from '../../src/testing/index.js';

describe('record()', () => {
  it('records every checked attempt with its outcome', async () => {
    const ic = new Interceptor();
    const rec = record(ic);
    const rule = await ic.add({ domain: 'gmail.com', code: 421, times: 2 });
    const tags = ['c1'];
    for (let i = 0; i < 3; i++) ic.check({ recipient: 'bob@gmail.com', tags });
    tags[0] = 'mutated';
    assert.equal(rec.attempts.length, 3);
    assert.deepEqual(rec.attempts.map((a) => a.forced), [true, true, false]);
    assert.deepEqual(rec.attempts[0]!.attempt.tags, ['c1'], 'attempts are copied');
    assert.equal(rec.forced.length, 2);
    assert.equal(rec.byRule(rule.id).length, 2);
    assert.equal(rec.forced[0]!.result?.reply, '421 4.0.0 forced deferring');
    rec.assertAllConsumed();
    rec.reset();
    assert.equal(rec.attempts.length, 0);
    rec.stop();
    ic.check({ recipient: 'x@y.com' });
    assert.equal(rec.attempts.length, 0);
  });

  it('waits for an attempt, and times out with what was recorded', async () => {
    const ic = new Interceptor();
    const rec = record(ic);
    setTimeout(() => ic.check({ recipient: 'late@example.com' }), 20);
    const hit = await rec.waitFor((a) => a.attempt.recipient === 'late@example.com', { timeout: 1000 });
    assert.equal(hit.forced, false);
    await assert.rejects(rec.waitFor((a) => a.forced, { timeout: 50 }), (err: AssertionError) => err instanceof AssertionError && /late@example.com/.test(err.message));
  });

  it('assertAllConsumed fails while a times rule has applications left', async () => {
    const ic = new Interceptor();
    const rec = record(ic);
    await ic.add({ domain: 'gmail.com', code: 421, times: 2 });
    ic.check({ domain: 'gmail.com' });
    assert.throws(() => rec.assertAllConsumed(), (err: AssertionError) => err instanceof AssertionError && /1 of its applications left, 1 used/.test(err.message));
  });
});
