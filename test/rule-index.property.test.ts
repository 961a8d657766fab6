// Differential test: the index and the linear reference model must return the same candidates in the
// same order for random rule sets and attempts (fixed seed, so failures reproduce).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Attempt, RuleInput } from '../src/index.js';
import { normalizeAttempt } from '../src/attempt.js';
import { RuleIndex } from '../src/rule-index.js';
import { FILTER_FIELDS, type FilterTerm } from '../src/rule-filter.js';
import { buildRules, matchers } from './helpers/matchers.js';

const names = ['p1', 'p2', '__proto__', 'constructor', 'toString'];
const mtas = ['10.0.0.1', '10.0.0.2', '2001:db8::1'];
const domains = ['a.com', 'mx.a.com', 'x.mx.a.com', 'b.org', 'constructor.com', '__proto__.net'];
const ruleDomains = [...domains, '*.a.com', '*.mx.a.com', '*.org', '*.net'];
const ips = ['192.0.2.1', '192.0.2.130', '198.51.100.7', '2001:db8::25', '2001:db8:1::25'];
const ruleIps = [...ips, '192.0.2.0/24', '192.0.2.128/25', '0.0.0.0/0', '2001:db8::/32', '2001:db8::/64', '::/0'];
const tags = ['t1', 't2', '__proto__', 'hasOwnProperty'];
const locals = ['ann', 'Bob'];
const senders = ['<>', 'ann@a.com', 'Bob@mx.a.com', 'x@b.org', 'x@__proto__.net'];
const ruleSenders = [...senders, 'a.com', 'mx.a.com', '*.a.com', '*.org', 'constructor.com'];
const mxs = ['mx.a.com', 'aspmx.l.google.com', 'alt1.aspmx.l.google.com', 'google.com', 'constructor.com'];
const ruleMxs = [...mxs, '*.google.com', '*.l.google.com', '*.com'];

const opt = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

const ruleArb: fc.Arbitrary<RuleInput> = fc
  .record({
    side: fc.constantFrom('pool', 'mta', 'none'),
    pool: fc.constantFrom(...names),
    mta: fc.constantFrom(...mtas),
    remote: fc.constantFrom('domain', 'ip', 'recipient', 'none'),
    domain: fc.constantFrom(...ruleDomains),
    ip: fc.constantFrom(...ruleIps),
    local: fc.constantFrom(...locals),
    rdomain: fc.constantFrom(...domains),
    tag: opt(fc.constantFrom(...tags)),
    sender: opt(fc.constantFrom(...ruleSenders)),
    mx: opt(fc.constantFrom(...ruleMxs)),
    cluster: fc.boolean(),
    priority: fc.constantFrom(0, 0, 0, 1, -1),
    phase: fc.constantFrom('rcpt', 'rcpt', 'data'),
  })
  .map((r) => {
    const input: RuleInput = { code: 550, cluster: r.cluster, priority: r.priority, phase: r.phase as RuleInput['phase'] };
    if (r.side === 'pool') input.pool = r.pool;
    if (r.side === 'mta') input.mta = r.mta;
    if (r.remote === 'domain') input.domain = r.domain;
    if (r.remote === 'ip') input.ip = r.ip;
    if (r.remote === 'recipient') input.recipient = `${r.local}@${r.rdomain}`;
    if (r.tag !== undefined) input.tag = r.tag;
    if (r.sender !== undefined) input.sender = r.sender;
    if (r.mx !== undefined) input.mx = r.mx;
    return input;
  });

const attemptArb: fc.Arbitrary<Attempt> = fc
  .record({
    pool: opt(fc.constantFrom(...names)),
    mta: opt(fc.constantFrom(...mtas)),
    local: fc.constantFrom(...locals),
    domain: opt(fc.constantFrom(...domains)),
    useRecipient: fc.boolean(),
    ip: opt(fc.constantFrom(...ips)),
    tags: fc.subarray(tags),
    phase: opt(fc.constantFrom('rcpt', 'data')),
    sender: opt(fc.constantFrom(...senders)),
    mx: opt(fc.constantFrom(...mxs)),
  })
  .map((a) => {
    const attempt: Attempt = { tags: a.tags };
    if (a.pool !== undefined) attempt.pool = a.pool;
    if (a.mta !== undefined) attempt.mta = a.mta;
    if (a.ip !== undefined) attempt.ip = a.ip;
    if (a.phase !== undefined) attempt.phase = a.phase as Attempt['phase'];
    if (a.sender !== undefined) attempt.sender = a.sender;
    if (a.mx !== undefined) attempt.mx = a.mx;
    if (a.domain !== undefined) {
      if (a.useRecipient) attempt.recipient = `${a.local}@${a.domain}`;
      else attempt.domain = a.domain;
    }
    return attempt;
  });

describe('RuleIndex against the linear reference model', () => {
  it('returns the same candidates in the same order', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(ruleArb, { maxLength: 40 }), fc.array(attemptArb, { minLength: 1, maxLength: 20 }), async (inputs, attempts) => {
        const [index, linear] = matchers(await buildRules(inputs));
        for (const attempt of attempts) {
          const got = index!.candidates(attempt).map((r) => r.id);
          const want = linear!.candidates(attempt).map((r) => r.id);
          assert.deepEqual(got, want, JSON.stringify(attempt));
        }
      }),
      { seed: 20261122, numRuns: 400 },
    );
  });

  it('answers the same when built by load (a snapshot) as when built by set, one rule at a time', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(ruleArb, { maxLength: 160 }), fc.nat(), fc.array(attemptArb, { minLength: 1, maxLength: 20 }), fc.boolean(), async (inputs, cut, attempts, fresh) => {
        const rules = await buildRules(inputs);
        // Some rules set before the load, and rules loaded twice: `load` replaces as `set` does. Or, as at
        // a first start-up, an empty index and distinct ids (`load`'s path without replacements).
        const before = fresh ? [] : rules.slice(0, cut % (rules.length + 1));
        const snapshot = fresh ? [...new Map(rules.map((r) => [r.id, r])).values()] : [...rules, ...rules.filter((_, i) => i % 3 === 0)];
        const bySet = new RuleIndex();
        const byLoad = new RuleIndex();
        for (const rule of before) { bySet.set(rule); byLoad.set(rule); }
        const replacedBySet = snapshot.map((rule) => bySet.set(rule)?.id);
        const replacedByLoad: (string | undefined)[] = [];
        byLoad.load(snapshot, (rule, previous) => replacedByLoad.push(previous?.id));
        assert.deepEqual(replacedByLoad, replacedBySet);
        // Changes after the load, before anything lists (a load into an empty index builds its listing
        // index at the first listing): updates, removals and new rules, the same on both.
        for (let i = 0; i < rules.length; i++) {
          if (i % 4 === 1) { bySet.set(rules[i]!); byLoad.set(rules[i]!); }
          if (i % 5 === 2) { bySet.delete(rules[i]!.id); byLoad.delete(rules[i]!.id); }
        }
        assert.equal(byLoad.format(), bySet.format());
        assert.deepEqual([...byLoad.values()].map((r) => r.id), [...bySet.values()].map((r) => r.id));
        // The listing index, built by one sort per list in `load`, lists what inserts one by one list.
        const listed = (index: RuleIndex, terms: readonly FilterTerm[]) => index.catalog.select(terms, undefined, 1_000_000, () => true).map((r) => r.id);
        assert.deepEqual(listed(byLoad, []), listed(bySet, []));
        // Insertion order (what an unpaginated filtered listing sorts by) survives the deferred build.
        const bySeq = (index: RuleIndex) => index.catalog.select([], undefined, 1_000_000, () => true).sort((x, y) => x.seq - y.seq).map((r) => r.id);
        assert.deepEqual(bySeq(byLoad), bySeq(bySet));
        assert.deepEqual(bySeq(byLoad), [...byLoad.values()].map((r) => r.id));
        for (const rule of rules) {
          for (const field of FILTER_FIELDS) {
            const value = rule[field];
            if (value !== undefined) assert.deepEqual(listed(byLoad, [[field, value]]), listed(bySet, [[field, value]]), `${field}=${String(value)}`);
          }
        }
        for (const attempt of attempts) {
          const a = normalizeAttempt(attempt);
          assert.deepEqual(byLoad.candidates(a).map((r) => r.id), bySet.candidates(a).map((r) => r.id), JSON.stringify(attempt));
        }
      }),
      { seed: 20261202, numRuns: 200 },
    );
  });
});
