// Differential test of the listing index: filtered listings and page walks through the catalog agree
// with a scan of the unfiltered listing, over random adds, updates, removals and expiries (fixed seed).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Interceptor, type Rule, type RuleFilter, type RuleInput } from '../src/index.js';

// Canonical values (as the rules hold them), hostile names included.
const pools = ['p1', '__proto__', 'constructor'];
const domains = ['a.com', '*.a.com', 'tostring.org'];
const tags = ['t1', '__proto__', 'hasOwnProperty'];
const senders = ['<>', 'ann@a.com', '*.org'];
const mxs = ['mx.a.com', '*.google.com'];

const opt = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

const ruleArb: fc.Arbitrary<RuleInput & { expiresIn?: number }> = fc.record({
  pool: opt(fc.constantFrom(...pools)),
  domain: opt(fc.constantFrom(...domains)),
  ip: opt(fc.constantFrom('192.0.2.1', '192.0.2.0/24')),
  tag: opt(fc.constantFrom(...tags)),
  sender: opt(fc.constantFrom(...senders)),
  mx: opt(fc.constantFrom(...mxs)),
  cluster: fc.boolean(),
  expiresIn: opt(fc.constantFrom(1, 5)),
}).map(({ expiresIn, ...r }) => {
  const input: RuleInput & { expiresIn?: number } = { code: 550, cluster: r.cluster };
  for (const field of ['pool', 'domain', 'tag', 'sender', 'mx'] as const) if (r[field] !== undefined) input[field] = r[field];
  // ip and domain are exclusive; an ip only when there is no domain.
  if (r.ip !== undefined && r.domain === undefined) input.ip = r.ip;
  if (expiresIn !== undefined) input.expiresIn = expiresIn;
  return input;
});

const filterValues: Record<string, readonly (string | boolean)[]> = {
  pool: pools, domain: domains, ip: ['192.0.2.1', '192.0.2.0/24'], tag: tags, sender: senders, mx: mxs, cluster: [true, false],
};
// No field, one or two: filters naming more rarely match anything.
const filterArb: fc.Arbitrary<RuleFilter> = fc.subarray(Object.keys(filterValues), { maxLength: 2 })
  .chain((fields) => fc.tuple(...fields.map((f) => fc.constantFrom(...filterValues[f]!).map((v) => [f, v] as const))))
  .map((entries) => Object.fromEntries(entries) as RuleFilter);

const opArb = fc.oneof(
  fc.record({ kind: fc.constant('add' as const), rule: ruleArb }),
  fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('tick' as const), seconds: fc.constantFrom(1, 3) }),
);

const matches = (rule: Rule, filter: RuleFilter) => Object.entries(filter).every(([field, value]) => rule[field as keyof Rule] === value);

describe('listing index', () => {
  it('lists and pages exactly what a scan of all rules finds', async () => {
    await fc.assert(fc.asyncProperty(fc.array(opArb, { maxLength: 40 }), filterArb, fc.integer({ min: 1, max: 4 }), async (ops, filter, limit) => {
      let now = 1_700_000_000_000;
      const ic = new Interceptor({ now: () => now });
      for (const op of ops) {
        if (op.kind === 'add') {
          const { expiresIn, ...input } = op.rule;
          await ic.add(expiresIn === undefined ? input : { ...input, expires: new Date(now + expiresIn * 1000).toISOString() });
        }
        else if (op.kind === 'remove') { const all = ic.list(); if (all.length > 0) await ic.remove(all[op.pick % all.length]!.id); }
        else now += op.seconds * 1000; // expired rules stay unswept: listings must leave them out
      }
      // The unfiltered listing scans every rule in insertion order: the reference.
      const expected = ic.list().filter((r) => matches(r, filter));
      assert.deepEqual(ic.list(filter).map((r) => r.id), expected.map((r) => r.id));
      const walked: string[] = [];
      for (let next: string | undefined, first = true; first || next !== undefined; first = false) {
        const page = ic.listPage(filter, { limit, startingAfter: next });
        assert.ok(page.rules.length <= limit);
        if (page.next !== undefined) assert.equal(page.rules.length, limit);
        walked.push(...page.rules.map((r) => r.id));
        next = page.next;
      }
      assert.deepEqual(walked, expected.map((r) => r.id).sort());
      await ic.close();
    }), { seed: 14, numRuns: 150 });
  });

  it('refuses a bad limit or cursor, naming the field', () => {
    const ic = new Interceptor();
    for (const limit of [0, 1001, 1.5, Number.NaN]) {
      assert.throws(() => ic.listPage(undefined, { limit }), (err: { code: string; param: string }) => err.code === 'out_of_range' && err.param === 'limit');
    }
    for (const startingAfter of ['', 'ABCDEF0123456789abcd', '0123', '__proto__']) {
      assert.throws(() => ic.listPage(undefined, { startingAfter }), (err: { code: string; param: string }) => err.code === 'invalid_format' && err.param === 'startingAfter');
    }
    assert.throws(() => ic.listPage({ limit: 5 } as RuleFilter), (err: { code: string; param: string }) => err.code === 'unknown_field' && err.param === 'limit');
  });

  it('continues after a cursor whose rule was removed', async () => {
    const ic = new Interceptor();
    const ids = (await Promise.all(['a', 'b', 'c', 'd'].map((d) => ic.add({ domain: `${d}.example`, code: 550 })))).map((r) => r.id).sort();
    const first = ic.listPage(undefined, { limit: 2 });
    assert.deepEqual(first.rules.map((r) => r.id), ids.slice(0, 2));
    await ic.remove(first.next!);
    const second = ic.listPage(undefined, { limit: 2, startingAfter: first.next });
    assert.deepEqual(second.rules.map((r) => r.id), ids.slice(2));
    assert.equal(second.next, undefined, 'a full last page has no cursor');
  });
});
