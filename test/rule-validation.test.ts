import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Interceptor, type RuleInput, ValidationError } from '../src/index.js';

const NOW = Date.parse('2026-01-01T00:00:00Z');

async function problems(input: unknown): Promise<{ code: string; param?: string; message: string }[]> {
  const ic = new Interceptor({ now: () => NOW });
  try {
    await ic.add(input as RuleInput);
  } catch (err) {
    assert.ok(err instanceof ValidationError, `expected ValidationError, got ${String(err)}`);
    assert.equal(err.type, 'validation_error');
    assert.equal(err.code, err.details[0]!.code);
    assert.equal(err.param, err.details[0]!.param);
    return err.details.map((d) => ({ ...d }));
  }
  assert.fail('expected the input to be rejected');
}

async function added(input: RuleInput) {
  const ic = new Interceptor({ now: () => NOW });
  return ic.add(input);
}

describe('rule validation', () => {
  it('normalises sender and mx and names them in errors, for rules and attempts', async () => {
    assert.deepEqual([(await added({ sender: 'Bounce@Example.COM.', code: 550 })).sender, (await added({ sender: '*.Example.com', code: 550 })).sender,
      (await added({ sender: '<>', code: 550 })).sender, (await added({ mx: 'ASPMX.L.Google.com.', code: 550 })).mx], ['Bounce@example.com', '*.example.com', '<>', 'aspmx.l.google.com']);
    assert.deepEqual((await problems({ sender: 'a@', code: 550 })).map((d) => [d.code, d.param]), [['invalid_format', 'sender']]);
    assert.deepEqual((await problems({ sender: '<a@b.c>', code: 550 })).map((d) => [d.code, d.param]), [['invalid_format', 'sender']]);
    assert.deepEqual((await problems({ mx: '*.', code: 550 })).map((d) => [d.code, d.param]), [['invalid_format', 'mx']]);
    assert.deepEqual((await problems({ mx: 7, sender: '', code: 550 })).map((d) => [d.code, d.param]), [['invalid_format', 'sender'], ['invalid_type', 'mx']]);
    const ic = new Interceptor();
    assert.throws(() => ic.check({ sender: 'nobody', mx: 'bad host' }), (err: unknown) => err instanceof ValidationError
      && err.details.map((d) => d.param).join() === 'sender,mx');
    assert.throws(() => ic.check({ sender: 5 as never }), (err: unknown) => err instanceof ValidationError && err.details.length === 1);
  });

  it('requires code', async () => {
    assert.deepEqual((await problems({ domain: 'gmail.com' })).map((d) => [d.code, d.param]), [['required', 'code']]);
  });

  it('accepts 2xx/4xx/5xx codes as numbers or numeric strings and outputs a number', async () => {
    for (const code of [200, 250, 299, 400, 421, 499, 500, 553, 599]) assert.equal((await added({ code })).code, code);
    assert.equal((await added({ code: '553' })).code, 553);
    assert.equal((await added({ code: '553' })).toJSON().code, 553);
  });

  it('rejects 1xx, 3xx and out-of-range codes', async () => {
    for (const code of [0, 199, 100, 300, 354, 399, 600, 1000, -421, '354', '42x', 4.5, '']) {
      const [first] = await problems({ code });
      assert.equal(first?.param, 'code', `code ${String(code)}`);
      assert.ok(['out_of_range', 'invalid_format', 'invalid_type'].includes(first!.code));
    }
  });

  it('checks extended: format and class equal to the code class', async () => {
    assert.equal((await added({ code: 550, extended: '5.7.1' })).extended, '5.7.1');
    assert.deepEqual((await problems({ code: 421, extended: '5.7.1' })).map((d) => [d.code, d.param]), [['invalid_format', 'extended']]);
    for (const extended of ['5.7', '5.7.1.1', 'x.1.1', '3.1.1', ' 5.7.1', '5.7.1\r\n']) {
      assert.equal((await problems({ code: 550, extended }))[0]?.param, 'extended');
    }
  });

  it('rejects CR, LF, NUL and other control characters in description (reply injection)', async () => {
    for (const bad of ['a\r\n250 ok', 'a\nb', 'a\0b', 'tab\there', 'del\x7f', 'c1\u0085']) {
      const [first] = await problems({ code: 550, description: bad });
      assert.deepEqual([first?.code, first?.param], ['invalid_format', 'description']);
    }
    assert.equal((await problems({ code: 550, description: 'x'.repeat(501) }))[0]?.code, 'out_of_range');
    assert.equal((await added({ code: 550, description: 'x'.repeat(500) })).description?.length, 500);
  });

  it('rejects pool with mta, naming mta', async () => {
    const details = await problems({ code: 250, pool: 'a', mta: '10.0.0.1' });
    assert.deepEqual(details, [{ code: 'mutually_exclusive', message: 'pool and mta may not be used together', param: 'mta' }]);
  });

  it('rejects more than one of domain, ip and recipient', async () => {
    for (const input of [{ domain: 'a.com', ip: '1.2.3.4' }, { domain: 'a.com', recipient: 'x@a.com' }, { ip: '1.2.3.4', recipient: 'x@a.com' }]) {
      assert.equal((await problems({ code: 550, ...input }))[0]?.code, 'mutually_exclusive');
    }
  });

  it('rejects unknown fields and suggests the intended one', async () => {
    const [first] = await problems({ code: 550, domian: 'gmail.com' });
    assert.equal(first?.code, 'unknown_field');
    assert.equal(first?.param, 'domian');
    assert.match(first!.message, /did you mean "domain"/);
    assert.equal((await problems({ code: 550, id: 'abc' }))[0]?.code, 'read_only');
  });

  it('reports every problem at once, in field order', async () => {
    const details = await problems({ code: 354, extended: 'bad', mta: 'not-an-ip', domain: 'exa mple.com', times: 0, phase: 'quit', domian: 'x' });
    assert.deepEqual(details.map((d) => d.param), ['code', 'extended', 'mta', 'domain', 'times', 'phase', 'domian']);
    for (const d of details) assert.ok(d.message.includes(d.param!), `message names its field: ${d.message}`);
  });

  it('rejects non-object inputs with a clear error', async () => {
    for (const input of [null, undefined, 'code=550', 42, [], [{ code: 550 }]]) {
      assert.equal((await problems(input))[0]?.code, 'invalid_type');
    }
  });

  it('rejects wrong types by field', async () => {
    const details = await problems({ code: 550, pool: 7, tag: ['a'], cluster: 'yes', probability: true, description: {} });
    assert.deepEqual(details.map((d) => [d.param, d.code]), [
      ['description', 'invalid_type'], ['pool', 'invalid_type'], ['tag', 'invalid_type'], ['cluster', 'invalid_format'], ['probability', 'invalid_type'],
    ]);
  });

  it('normalises mta: IPv6 compressed lower case, IPv4-mapped to IPv4', async () => {
    assert.equal((await added({ code: 550, mta: '2001:DB8:0:0:0:0:0:1' })).mta, '2001:db8::1');
    assert.equal((await added({ code: 550, mta: '::ffff:192.0.2.1' })).mta, '192.0.2.1');
    assert.equal((await added({ code: 550, mta: '::FFFF:c000:0201' })).mta, '192.0.2.1');
    assert.equal((await added({ code: 550, mta: '2001:db8:0:0:1:0:0:1' })).mta, '2001:db8::1:0:0:1');
    for (const mta of ['1.2.3', '1.2.3.256', '01.2.3.4', 'fe80::1%eth0', '10.0.0.0/8', 'localhost']) {
      assert.equal((await problems({ code: 550, mta }))[0]?.param, 'mta', mta);
    }
  });

  it('normalises ip and CIDR, rejecting host bits', async () => {
    assert.equal((await added({ code: 550, ip: '203.0.113.0/24' })).ip, '203.0.113.0/24');
    assert.equal((await added({ code: 550, ip: '2001:DB8::/32' })).ip, '2001:db8::/32');
    assert.equal((await added({ code: 550, ip: '203.0.113.9/32' })).ip, '203.0.113.9');
    assert.equal((await added({ code: 550, ip: '::ffff:203.0.113.0/120' })).ip, '203.0.113.0/24');
    assert.equal((await added({ code: 550, ip: '0.0.0.0/0' })).ip, '0.0.0.0/0');
    const [hostBits] = await problems({ code: 550, ip: '203.0.113.7/24' });
    assert.match(hostBits!.message, /did you mean 203\.0\.113\.0\/24/);
    for (const ip of ['203.0.113.0/33', '2001:db8::/129', '1.2.3.4/x', '1.2.3.4/', 'a.b.c.d']) {
      assert.equal((await problems({ code: 550, ip }))[0]?.param, 'ip', ip);
    }
  });

  it('normalises domain: case, trailing dot, IDN to punycode, wildcards', async () => {
    assert.equal((await added({ code: 550, domain: 'GMail.COM.' })).domain, 'gmail.com');
    assert.equal((await added({ code: 550, domain: 'bücher.example' })).domain, 'xn--bcher-kva.example');
    assert.equal((await added({ code: 550, domain: '*.Example.com' })).domain, '*.example.com');
    for (const domain of ['*', '*.', 'a..b', '-a.com', 'a_b .com', 'foo.*.com', '*.*.com', 'a'.repeat(64) + '.com']) {
      assert.equal((await problems({ code: 550, domain }))[0]?.param, 'domain', domain);
    }
  });

  it('normalises the domain part of recipient only', async () => {
    assert.equal((await added({ code: 550, recipient: 'Bob.Smith@GMAIL.com' })).recipient, 'Bob.Smith@gmail.com');
    for (const recipient of ['bob', '@gmail.com', 'bob@', 'bob@exa mple.com']) {
      assert.equal((await problems({ code: 550, recipient }))[0]?.param, 'recipient', recipient);
    }
  });

  it('accepts cluster as boolean or true/false/1/0 strings', async () => {
    for (const [value, expected] of [[true, true], [false, false], ['true', true], ['false', false], ['1', true], ['0', false]] as const) {
      assert.equal((await added({ code: 550, cluster: value })).cluster, expected);
    }
    assert.equal((await added({ code: 550 })).cluster, false);
  });

  it('checks times, probability, priority, delay ranges', async () => {
    assert.equal((await added({ code: 550, times: '2' })).times, 2);
    assert.equal((await added({ code: 550, probability: '0.25' })).probability, 0.25);
    assert.equal((await added({ code: 550, priority: '-5' })).priority, -5);
    assert.equal((await added({ code: 550, delay: 600000 })).delay, 600000);
    for (const [field, value] of [['times', 0], ['probability', 0], ['probability', 1.01], ['delay', -1], ['delay', 600001], ['priority', 2_000_000]] as const) {
      const [first] = await problems({ code: 550, [field]: value });
      assert.deepEqual([first?.param, first?.code], [field, 'out_of_range'], `${field}=${value}`);
    }
    for (const [field, value] of [['times', 1.5], ['times', '1.5'], ['priority', 0.5], ['delay', 'soon']] as const) {
      const [first] = await problems({ code: 550, [field]: value });
      assert.equal(first?.param, field, `${field}=${value}`);
      assert.match(first!.message, /integer/);
    }
  });

  it('accepts expires as ISO-8601 or epoch seconds, and ttl as seconds', async () => {
    assert.equal((await added({ code: 550, expires: '2026-01-02T00:00:00Z' })).expires, NOW + 86_400_000);
    assert.equal((await added({ code: 550, expires: NOW / 1000 + 60 })).expires, NOW + 60_000);
    assert.equal((await added({ code: 550, expires: String(NOW / 1000 + 60) })).expires, NOW + 60_000);
    assert.equal((await added({ code: 550, ttl: 30 })).expires, NOW + 30_000);
    assert.equal((await added({ code: 550, ttl: 30 })).toJSON().expires, '2026-01-01T00:00:30.000Z');
    assert.equal((await problems({ code: 550, expires: '2025-12-31T00:00:00Z' }))[0]?.code, 'out_of_range');
    assert.equal((await problems({ code: 550, expires: '2026-01-02T00:00:00' }))[0]?.code, 'invalid_format');
    assert.equal((await problems({ code: 550, expires: 'tomorrow' }))[0]?.code, 'invalid_format');
    assert.equal((await problems({ code: 550, expires: '2026-01-02', ttl: 5 }))[0]?.code, 'mutually_exclusive');
    assert.equal((await problems({ code: 550, ttl: 0 }))[0]?.code, 'out_of_range');
    // Milliseconds given where seconds are expected: far beyond any date toJSON can print.
    for (const expires of ['99999999999999', NOW, 1e20]) {
      const [first] = await problems({ code: 550, expires });
      assert.deepEqual([first?.param, first?.code], ['expires', 'out_of_range'], String(expires));
    }
  });

  it('accepts phase values only from the list', async () => {
    for (const phase of ['connect', 'mail', 'rcpt', 'data'] as const) assert.equal((await added({ code: 550, phase })).phase, phase);
    assert.equal((await added({ code: 550 })).phase, 'rcpt');
    assert.equal((await problems({ code: 550, phase: 'RCPT' }))[0]?.param, 'phase');
  });

  it('never partially applies a rejected input', async () => {
    const ic = new Interceptor();
    await assert.rejects(ic.add({ code: 550, domain: 'gmail.com', times: 0 }));
    assert.equal(ic.size, 0);
    assert.equal(ic.check({ domain: 'gmail.com' }), undefined);
  });
});
