import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Interceptor } from '../src/index.js';
import { hashSuffixes, hashText, KeyFilter } from '../src/key-filter.js';

describe('RuleIndex filters', () => {
  it('hashes every domain suffix in one pass exactly as hashText hashes the suffix', () => {
    const out: number[] = [];
    const domain = 'a.mx.eu.example.com';
    const labels = hashSuffixes(domain, out);
    assert.equal(labels, 5);
    const parts = domain.split('.');
    for (let n = 1; n <= labels; n++) assert.equal(out[n], hashText(parts.slice(-n).join('.')), `last ${n} labels`);
  });

  it('never forgets a key across growth, removals and rebuilds', async () => {
    const ic = new Interceptor({ cacheSize: 0 });
    const n = 5000;
    for (let i = 0; i < n; i++) await ic.add({ pool: `p${i}`, domain: `d${i}.example`, code: 421 });
    for (let i = 0; i < n; i++) assert.equal(ic.check({ pool: `p${i}`, domain: `d${i}.example` })?.code, 421, `rule ${i}`);
    for (let i = 0; i < n; i += 5) await ic.remove({ pool: `p${i}`, domain: `d${i}.example` });
    for (let i = 1; i < n; i += 7) await ic.remove({ pool: `p${i}`, domain: `d${i}.example` });
    for (let i = 0; i < n; i++) {
      const removed = i % 5 === 0 || i % 7 === 1;
      assert.equal(ic.check({ pool: `p${i}`, domain: `d${i}.example` })?.code, removed ? undefined : 421, `rule ${i}`);
    }
    for (let i = 0; i < n; i += 5) await ic.add({ pool: `p${i}`, domain: `d${i}.example`, code: 550 });
    for (let i = 0; i < n; i += 5) assert.equal(ic.check({ pool: `p${i}`, domain: `d${i}.example` })?.code, 550);
  });

  it('lets through about one absent key in eight at 8 bits per key', () => {
    const filter = new KeyFilter();
    const keys = 20_000;
    filter.reset(keys);
    for (let i = 0; i < keys; i++) filter.add(hashText(`key-${i}`));
    let passed = 0;
    for (let i = 0; i < 20_000; i++) if (filter.has(hashText(`absent-${i}`))) passed++;
    for (let i = 0; i < keys; i++) assert.ok(filter.has(hashText(`key-${i}`)));
    assert.ok(passed / 20_000 < 0.15, `false positive rate ${(passed / 20_000).toFixed(3)}`);
  });
});
