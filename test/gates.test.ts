// Greylisting and rate limits through the public API, on an injected clock (no test sleeps).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Interceptor, type RuleInput, ValidationError } from '../src/index.js';

const S = 1000;
const DAY = 86_400 * S;

function setup(options: { stateSize?: number } = {}) {
  let t = Date.parse('2026-01-01T00:00:00Z');
  const ic = new Interceptor({ now: () => t, ...options });
  return { ic, advance: (ms: number) => { t += ms; }, now: () => t };
}

const triplet = { mta: '192.0.2.10', sender: 'app@example.com', recipient: 'bob@example.net' };

async function rejected(input: RuleInput): Promise<[string, string | undefined][]> {
  try {
    await new Interceptor().add(input);
  } catch (err) {
    assert.ok(err instanceof ValidationError);
    return err.details.map((d) => [d.code, d.param]);
  }
  return assert.fail('expected a ValidationError');
}

describe('greylisting', () => {
  it('defers the first attempt with 451 4.7.1, again before 300 s without restarting the wait, then passes', async () => {
    const { ic, advance } = setup();
    await ic.add({ greylist: true });
    assert.equal(ic.check(triplet)?.reply, '451 4.7.1 Greylisted, please try again later');
    advance(299 * S);
    assert.equal(ic.check(triplet)?.code, 451, 'a retry before delay is deferred again');
    advance(1 * S);
    assert.equal(ic.check(triplet), undefined, 'the wait counts from the first attempt');
    assert.equal(ic.check(triplet), undefined, 'an accepted triplet keeps passing');
  });

  it('starts over after the window, and after the lifetime unseen', async () => {
    const { ic, advance } = setup();
    await ic.add({ greylist: { delay: 60, window: 3600, lifetime: 7200 } });
    assert.ok(ic.check(triplet));
    advance(3601 * S);
    assert.ok(ic.check(triplet), 'retried after the window: a first attempt again');
    advance(60 * S);
    assert.equal(ic.check(triplet), undefined);
    advance(7200 * S);
    assert.equal(ic.check(triplet), undefined, 'seen within the lifetime: still passing (and refreshed)');
    advance(7201 * S);
    assert.ok(ic.check(triplet), 'unseen for longer than the lifetime: greylisted again');
  });

  it('keys on mta /24 (IPv4), /64 (IPv6) or pool, sender and recipient', async () => {
    const { ic, advance } = setup();
    await ic.add({ greylist: true });
    for (const a of [triplet, { ...triplet, mta: '2001:db8:1:2::5' }, { pool: 'p1', sender: '<>', recipient: 'x@y.org' }]) ic.check(a);
    advance(300 * S);
    assert.equal(ic.check({ ...triplet, mta: '192.0.2.200' }), undefined, 'same /24');
    assert.ok(ic.check({ ...triplet, mta: '192.0.3.10' }), 'another /24');
    assert.equal(ic.check({ ...triplet, mta: '2001:db8:1:2:ffff::1' }), undefined, 'same /64');
    assert.ok(ic.check({ ...triplet, sender: 'other@example.com' }));
    assert.ok(ic.check({ ...triplet, recipient: 'ann@example.net' }));
    assert.equal(ic.check({ pool: 'p1', sender: '<>', recipient: 'x@y.org' }), undefined, 'pool when there is no mta');
  });

  it('explains the triplet and when it passes, without recording anything', async () => {
    const { ic, advance, now } = setup();
    const rule = await ic.add({ greylist: true });
    const before = ic.explain(triplet);
    assert.deepEqual(before.gates, [{ rule, kind: 'greylist', triplet: { client: '192.0.2.0/24', sender: 'app@example.com', recipient: 'bob@example.net' }, state: 'new', passAt: now() + 300 * S }]);
    ic.explain(triplet);
    const first = now();
    ic.check(triplet);
    advance(10 * S);
    assert.deepEqual(ic.explain(triplet).gates.map((g) => [g.kind, 'state' in g && g.state, g.passAt]), [['greylist', 'waiting', first + 300 * S]]);
  });

  it('starts afresh when every rule is cleared', async () => {
    const { ic, advance } = setup();
    await ic.add({ greylist: true });
    ic.check(triplet);
    advance(300 * S);
    assert.equal(ic.check(triplet), undefined);
    await ic.clear();
    await ic.add({ greylist: true });
    assert.ok(ic.check(triplet), 'the same rule added again greylists the triplet again');
  });

  it('forgets the least recently used triplet beyond stateSize', async () => {
    const { ic, advance } = setup({ stateSize: 2 });
    await ic.add({ greylist: true });
    for (const r of ['a@x.org', 'b@x.org', 'c@x.org']) ic.check({ ...triplet, recipient: r });
    advance(300 * S);
    assert.ok(ic.check({ ...triplet, recipient: 'a@x.org' }), 'evicted: a first attempt again');
    assert.equal(ic.check({ ...triplet, recipient: 'c@x.org' }), undefined);
    assert.throws(() => new Interceptor({ stateSize: 0 }), /stateSize/);
  });

  it('lets the next candidate decide when it passes, and combines with selectors', async () => {
    const { ic, advance } = setup();
    await ic.add({ greylist: true, mx: '*.google.com', priority: 1 });
    await ic.add({ domain: 'example.net', code: 550 });
    assert.equal(ic.check({ ...triplet, mx: 'aspmx.l.google.com' })?.code, 451);
    advance(300 * S);
    assert.equal(ic.check({ ...triplet, mx: 'aspmx.l.google.com' })?.code, 550);
    assert.equal(ic.check({ ...triplet, mx: 'mx.example.net', recipient: 'z@other.org' }), undefined);
  });
});

describe('rate limits', () => {
  it('passes exactly limit attempts per window, forces 421 4.7.0 on the next, passes again after the window', async () => {
    const { ic, advance } = setup();
    await ic.add({ rate: { limit: 100, window: 60 } });
    for (let i = 0; i < 100; i++) assert.equal(ic.check({ recipient: `r${i}@x.org` }), undefined, `attempt ${i + 1}`);
    assert.equal(ic.check({ recipient: 'late@x.org' })?.reply, '421 4.7.0 Too many messages, slow down');
    assert.equal(ic.check({ recipient: 'late@x.org' })?.code, 421, 'forced attempts take no token and stay forced');
    advance(60 * S);
    for (let i = 0; i < 100; i++) assert.equal(ic.check({ recipient: `s${i}@x.org` }), undefined);
    assert.ok(ic.check({ recipient: 'late@x.org' }));
  });

  it('refills continuously (token bucket): one attempt per window/limit', async () => {
    const { ic, advance, now } = setup();
    await ic.add({ rate: { limit: 2, window: 10 } });
    ic.check({});
    ic.check({});
    assert.ok(ic.check({}));
    assert.equal(ic.explain({}).gates[0]?.passAt, now() + 5 * S);
    advance(4999);
    assert.ok(ic.check({}));
    advance(1);
    assert.equal(ic.check({}), undefined);
    assert.ok(ic.check({}));
  });

  it('counts per value of `per`; attempts lacking it share one counter', async () => {
    const { ic } = setup();
    await ic.add({ rate: { limit: 1, window: 60, per: 'domain' } });
    assert.equal(ic.check({ domain: 'a.org' }), undefined);
    assert.equal(ic.check({ domain: 'b.org' }), undefined);
    assert.ok(ic.check({ recipient: 'x@a.org' }));
    assert.equal(ic.check({}), undefined);
    assert.ok(ic.check({}));
    const [gate] = ic.explain({ domain: 'b.org' }).gates;
    assert.deepEqual([gate?.kind, gate?.kind === 'rate' && gate.key, gate?.kind === 'rate' && gate.available], ['rate', 'b.org', 0]);
  });

  it('counts per sender, mx, ip, mta and pool', async () => {
    for (const [per, a, b] of [['sender', { sender: 'a@x.org' }, { sender: '<>' }], ['mx', { mx: 'mx1.x.org' }, { mx: 'mx2.x.org' }],
      ['ip', { ip: '192.0.2.1' }, { ip: '::ffff:192.0.2.2' }], ['mta', { mta: '10.0.0.1' }, { mta: '10.0.0.2' }], ['pool', { pool: 'p' }, { pool: 'q' }]] as const) {
      const { ic } = setup();
      await ic.add({ rate: { limit: 1, window: 60, per } });
      assert.equal(ic.check(a), undefined, per);
      assert.equal(ic.check(b), undefined, per);
      assert.ok(ic.check(a), per);
    }
  });

  it('keeps overridden reply fields and serialises to an input that restores it', async () => {
    const { ic } = setup();
    const rule = await ic.add({ rate: { limit: '5', window: '60', per: 'mx' }, code: 450, description: 'slow' });
    assert.deepEqual(rule.toJSON().rate, { limit: 5, window: 60, per: 'mx' });
    assert.equal(rule.toJSON().extended, '4.7.0');
    const grey = await ic.add({ greylist: 'true', domain: 'x.org', code: 550 });
    assert.deepEqual(grey.toJSON().greylist, { delay: 300, window: 172800, lifetime: 3024000 });
    assert.equal(grey.extended, undefined, 'a 5xx keeps the 5.0.0 default');
    const { id, created, updated, hits, ...input } = rule.toJSON();
    void [id, created, updated, hits];
    assert.deepEqual((await new Interceptor().add(input)).toJSON().rate, rule.toJSON().rate);
  });
});

describe('greylist and rate validation', () => {
  it('names the nested field', async () => {
    assert.deepEqual(await rejected({ greylist: { delay: -1 } }), [['out_of_range', 'greylist.delay']]);
    assert.deepEqual(await rejected({ greylist: { delay: 600, window: 300 } }), [['out_of_range', 'greylist.window']]);
    assert.deepEqual(await rejected({ greylist: { wait: 1 } as never }), [['unknown_field', 'greylist.wait']]);
    assert.deepEqual(await rejected({ greylist: 'yes' as never }), [['invalid_format', 'greylist']]);
    assert.deepEqual(await rejected({ rate: { limit: 0, window: 60 } }), [['out_of_range', 'rate.limit']]);
    assert.deepEqual(await rejected({ rate: { limit: 5 } as never }), [['required', 'rate.window']]);
    assert.deepEqual(await rejected({ rate: { limit: 5, window: 60, per: 'tag' as never } }), [['invalid_format', 'rate.per']]);
    assert.deepEqual(await rejected({ rate: 5 as never }), [['invalid_type', 'rate']]);
  });

  it('rejects greylist with rate, and either with probability; accepts times', async () => {
    assert.deepEqual(await rejected({ greylist: true, rate: { limit: 1, window: 1 } }), [['mutually_exclusive', 'rate']]);
    assert.deepEqual(await rejected({ greylist: true, probability: 0.5 }), [['mutually_exclusive', 'probability']]);
    assert.deepEqual(await rejected({ rate: { limit: 1, window: 1 }, probability: 0.5 }), [['mutually_exclusive', 'probability']]);
    const { ic } = setup();
    await ic.add({ greylist: true, times: 1 });
    assert.ok(ic.check(triplet));
    assert.equal(ic.check({ ...triplet, recipient: 'new@x.org' }), undefined, 'times counts forced replies');
  });

  it('requires code without greylist or rate, or with greylist: false', async () => {
    assert.deepEqual(await rejected({ greylist: false }), [['required', 'code']]);
  });
});
