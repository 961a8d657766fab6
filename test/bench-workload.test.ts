// The benchmark is only meaningful if its attempts get the answers it assumes: each hit attempt forces
// exactly the rule it was built for, each miss attempt forces nothing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { faultAt, hitAt, indices, missAt, ruleAt, SHAPES } from '../bench/workload.js';
import { Interceptor } from '../src/index.js';
import { buildRules, matchers } from './helpers/matchers.js';

describe('benchmark workload', () => {
  it('hits exactly the intended rule and misses everything else', async () => {
    const size = SHAPES.length * 50;
    const ic = new Interceptor({ cacheSize: 0 });
    const ids: string[] = [];
    for (let i = 0; i < size; i++) ids.push((await ic.add(ruleAt(i))).id);
    assert.equal(ic.size, size, 'every workload rule is distinct');
    for (const i of indices(size, 300)) {
      const { candidates } = ic.explain(hitAt(i));
      assert.deepEqual(candidates.map((r) => r.id), [ids[i]], `hitAt(${i}) (${SHAPES[i % SHAPES.length]!.name})`);
      assert.equal(ic.check(hitAt(i))?.rule.id, ids[i]);
      assert.equal(ic.check(missAt(i)), undefined, `missAt(${i})`);
    }
  });

  it('agrees with the reference model', async () => {
    const [index, linear] = matchers(await buildRules(Array.from({ length: 240 }, (_, i) => ruleAt(i))));
    for (const i of indices(240, 100)) {
      for (const attempt of [hitAt(i), missAt(i)]) {
        assert.deepEqual(index!.candidates(attempt).map((r) => r.id), linear!.candidates(attempt).map((r) => r.id));
      }
    }
  });

  it('fault rules are valid, one per kind in turn, and force nothing the other attempts meet', async () => {
    const ic = new Interceptor({ cacheSize: 0 });
    for (let i = 0; i < SHAPES.length * 10; i++) await ic.add(ruleAt(i));
    const faults = [];
    for (let k = 0; k < 50; k++) faults.push(await ic.add(faultAt(k)));
    assert.deepEqual(new Set(faults.map((r) => r.fault?.kind)), new Set(['disconnect', 'reset', 'hang', 'throttle', 'tls']));
    for (const i of indices(SHAPES.length * 10, 100)) {
      for (const phase of ['connect', 'mail', 'rcpt', 'data'] as const) {
        assert.equal(ic.check({ ...hitAt(i), phase })?.fault, undefined);
        assert.equal(ic.check({ ...missAt(i), phase }), undefined);
        assert.equal(ic.check({ recipient: `to${i % 64}@sink.test`, phase }), undefined, 'the fake MX benchmark recipients');
      }
    }
  });
});
