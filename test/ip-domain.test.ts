import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeHostname, parseAddress, parseRuleDomain } from '../src/domain.js';
import { networkKey, parseCidr, parseIp } from '../src/ip.js';

describe('IP parsing', () => {
  it('accepts strict dotted quads only', () => {
    for (const ok of ['0.0.0.0', '1.2.3.4', '255.255.255.255', '10.0.0.10', '192.168.100.200']) assert.equal(parseIp(ok)?.text, ok);
    for (const bad of ['1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.04', '1..2.3', '.1.2.3', '1.2.3.', ' 1.2.3.4', '1.2.3.4 ', '1.2.3.-4', '1.2.3.4/8', '１.2.3.4', '']) {
      assert.equal(parseIp(bad), undefined, JSON.stringify(bad));
    }
  });

  it('canonicalises IPv6 per RFC 5952 and folds IPv4-mapped addresses', () => {
    const cases: [string, string][] = [
      ['2001:DB8::1', '2001:db8::1'], ['2001:db8:0:0:0:0:2:1', '2001:db8::2:1'], ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], ['::', '::'], ['::1', '::1'],
      ['::ffff:1.2.3.4', '1.2.3.4'], ['::ffff:0102:0304', '1.2.3.4'], ['0:0:0:0:0:ffff:1.2.3.4', '1.2.3.4'], ['::1.2.3.4', '::102:304'],
      ['fe80::1:2:3:4', 'fe80::1:2:3:4'], ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ];
    for (const [input, canonical] of cases) assert.equal(parseIp(input)?.text, canonical, input);
    assert.equal(parseIp('fe80::1%eth0'), undefined);
    assert.equal(parseIp('1:2:3:4:5:6:7:8:9'), undefined);
  });

  it('computes equal network keys for every address inside a CIDR', () => {
    const net = parseCidr('198.51.100.0/22');
    assert.ok(typeof net !== 'string');
    for (const inside of ['198.51.100.0', '198.51.103.255', '198.51.101.7']) assert.equal(networkKey(parseIp(inside)!, 22), net.key, inside);
    for (const outside of ['198.51.104.0', '198.51.99.255']) assert.notEqual(networkKey(parseIp(outside)!, 22), net.key, outside);
    const v6 = parseCidr('2001:db8:8000::/33');
    assert.ok(typeof v6 !== 'string');
    assert.equal(networkKey(parseIp('2001:db8:ffff::1')!, 33), v6.key);
    assert.notEqual(networkKey(parseIp('2001:db8:7fff::1')!, 33), v6.key);
  });
});

describe('domain parsing', () => {
  it('returns canonical hostnames unchanged and fixes the rest', () => {
    assert.equal(normalizeHostname('mx.example.com'), 'mx.example.com');
    assert.equal(normalizeHostname('MX.Example.COM.'), 'mx.example.com');
    assert.equal(normalizeHostname('müller.de'), 'xn--mller-kva.de');
    assert.equal(normalizeHostname('[IPv6:2001:DB8::1]'), '[2001:db8::1]');
    assert.equal(normalizeHostname('[192.0.2.1]'), '[192.0.2.1]');
    for (const bad of ['', '.', 'a..b', '-a.b', 'a-.b', 'a b', `${'a'.repeat(64)}.b`, `${'a.'.repeat(127)}ab`, '[1.2.3]']) {
      assert.equal(typeof normalizeHostname(bad), 'object', JSON.stringify(bad));
    }
  });

  it('parses wildcards and addresses', () => {
    assert.deepEqual(parseRuleDomain('*.Example.com'), { text: '*.example.com', wildcard: true, name: 'example.com', labels: 2 });
    assert.ok('problem' in parseRuleDomain('*.[1.2.3.4]'));
    assert.deepEqual(parseAddress('Bob@Example.COM'), { text: 'Bob@example.com', domain: 'example.com' });
    assert.deepEqual(parseAddress('"a@b"@example.com'), { text: '"a@b"@example.com', domain: 'example.com' });
    assert.ok('problem' in parseAddress(`${'a'.repeat(65)}@example.com`));
  });
});

describe('IPv6 parser against node:net and WHATWG URL', () => {
  it('accepts exactly what isIPv6 accepts and canonicalises like the URL serializer', async () => {
    const { isIPv6 } = await import('node:net');
    const fc = (await import('fast-check')).default;
    const group = fc.stringMatching(/^[0-9a-fA-F]{0,5}$/);
    const text = fc.oneof(
      fc.array(group, { minLength: 1, maxLength: 9 }).map((g) => g.join(':')),
      fc.tuple(fc.array(group, { maxLength: 8 }), fc.array(group, { maxLength: 8 })).map(([a, b]) => `${a.join(':')}::${b.join(':')}`),
      fc.tuple(fc.array(group, { maxLength: 7 }), fc.ipV4()).map(([a, v4]) => `${a.join(':')}::${v4}`),
      fc.ipV6(),
    );
    fc.assert(fc.property(text, (s) => {
      const parsed = parseIp(s);
      assert.equal(parsed !== undefined, isIPv6(s), `accepts ${s}`);
      if (parsed?.family === 6) assert.equal(parsed.text, new URL(`http://[${s}]`).hostname.slice(1, -1), s);
    }), { seed: 7, numRuns: 3000 });
  });
});
