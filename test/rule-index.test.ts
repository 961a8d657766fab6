import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Interceptor } from '../src/index.js';
import { RuleIndex } from '../src/rule-index.js';
import { buildRules } from './helpers/matchers.js';
import { hashSuffixes, hashText, KeyFilter } from '../src/key-filter.js';

describe('RuleIndex layout', () => {
  it('groups rules by shape and variant (pinned: a change here is a change of the index layout)', async () => {
    const index = new RuleIndex();
    for (const rule of await buildRules([
      { domain: 'a.com', code: 421 }, { domain: 'a.com', code: 421, cluster: true }, { domain: 'b.com', code: 421 },
      { domain: '*.example.com', code: 421 }, { domain: '*.eu.example.com', code: 421 },
      { ip: '10.0.0.1', code: 550 }, { ip: '10.0.0.0/8', code: 550 }, { ip: '2001:db8::/32', code: 550 },
      { pool: 'p', domain: 'a.com', code: 421 }, { tag: 't', recipient: 'x@a.com', code: 550 }, { code: 421 },
    ])) index.set(rule);
    assert.equal(index.format(), [
      '(none) exact: 1 keys, 1 rules',
      'domain exact: 2 keys, 3 rules',
      'domain+pool exact: 1 keys, 1 rules',
      'ip exact: 1 keys, 1 rules',
      'tag+recipient exact: 1 keys, 1 rules',
      'domain wildcard/2: 1 keys, 1 rules',
      'domain wildcard/3: 1 keys, 1 rules',
      'ip ipv4/8: 1 keys, 1 rules',
      'ip ipv6/32: 1 keys, 1 rules',
    ].join('\n'));
  });
});

describe('RuleIndex layout: sender and mx', () => {
  it('gives each sender form and mx form its own shape, after the older shapes', async () => {
    const index = new RuleIndex();
    for (const rule of await buildRules([
      { domain: 'a.com', code: 421 }, { sender: '<>', code: 550 }, { sender: 'x@a.com', code: 550 }, { sender: 'a.com', code: 550 },
      { sender: '*.a.com', code: 550 }, { mx: 'mx.a.com', code: 421 }, { mx: '*.google.com', code: 421 },
      { pool: 'p', ip: '10.0.0.0/8', sender: '*.b.a.com', mx: '*.l.google.com', tag: 't', code: 421 },
    ])) index.set(rule);
    assert.equal(index.format(), [
      'domain exact: 1 keys, 1 rules',
      'sender exact sender:address: 2 keys, 2 rules',
      'mx exact mx:exact: 1 keys, 1 rules',
      'sender exact sender:wildcard/2: 1 keys, 1 rules',
      'sender exact sender:domain: 1 keys, 1 rules',
      'mx exact mx:wildcard/2: 1 keys, 1 rules',
      'mx+sender+tag+ip+pool ipv4/8 sender:wildcard/3 mx:wildcard/3: 1 keys, 1 rules',
    ].join('\n'));
  });
});

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
