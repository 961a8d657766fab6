// Differential test of the listing index itself: `RuleCatalog` against a naive model (every rule in an
// array, filtered and sorted by id per query), over inserts, updates, deletes, bulk loads and page seeks
// across several chunks, with two domains whose value hashes collide (fixed seed).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { valueHash } from '../src/catalog-keys.js';
import { RuleCatalog } from '../src/rule-catalog.js';
import { type FilterTerm } from '../src/rule-filter.js';
import { parseRuleInput } from '../src/rule-input.js';
import { ruleId } from '../src/rule-id.js';
import { Rule } from '../src/rule.js';
import type { RuleInput } from '../src/index.js';

/** Two domains with the same 31-bit value hash (found by search; about 50,000 tries). */
function collidingDomains(): [string, string] {
  const seen = new Map<number, string>();
  for (let i = 0; ; i++) {
    const domain = `x${i}.example`;
    const other = seen.get(valueHash(domain));
    if (other !== undefined) return [other, domain];
    seen.set(valueHash(domain), domain);
  }
}
const [clashA, clashB] = collidingDomains();
const domains = [clashA, clashB, 'gmail.com', 'a.example'];
const tags = ['t1', '__proto__', 'constructor'];

/** 800 distinct selectors: several chunks per list, many rules per value. */
const inputs: RuleInput[] = Array.from({ length: 800 }, (_, i) => {
  const input: RuleInput = { code: 550, cluster: i % 5 === 0, pool: `p${i}` };
  if (i % 3 !== 0) input.domain = domains[i % domains.length]!;
  if (i % 4 === 1) input.tag = tags[i % tags.length]!;
  return input;
});
/** A new rule object for selector `i` (an update of the same selector is another object, same id). */
const ruleOf = (i: number): Rule => {
  const spec = parseRuleInput(inputs[i]!, 0);
  return new Rule(spec, ruleId(spec), 0, 0, 0);
};

const termArb: fc.Arbitrary<FilterTerm[]> = fc.oneof(
  fc.constant<FilterTerm[]>([]),
  fc.constantFrom(...domains).map((d): FilterTerm[] => [['domain', d]]),
  fc.constantFrom(...tags).map((t): FilterTerm[] => [['tag', t]]),
  fc.boolean().map((c): FilterTerm[] => [['cluster', c]]),
  fc.tuple(fc.constantFrom(...domains), fc.boolean()).map(([d, c]): FilterTerm[] => [['domain', d], ['cluster', c]]),
);
const opArb = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), from: fc.nat(799), count: fc.integer({ min: 1, max: 300 }) }),
  fc.record({ kind: fc.constant('delete' as const), from: fc.nat(799), count: fc.integer({ min: 1, max: 300 }) }),
  fc.record({ kind: fc.constant('bulk' as const), from: fc.nat(799), count: fc.integer({ min: 1, max: 800 }) }),
  fc.record({
    kind: fc.constant('select' as const),
    terms: termArb,
    // A cursor: the id of some selector (present or not), or any hex string of an id's length.
    cursor: fc.option(fc.oneof(fc.nat(799).map((i) => ruleOf(i).id), fc.stringMatching(/^[0-9a-f]{20}$/)), { nil: undefined }),
    max: fc.integer({ min: 1, max: 900 }),
    dropOdd: fc.boolean(),
  }),
);

describe('RuleCatalog', () => {
  it('selects what a filtered, sorted array of every rule selects', () => {
    assert.notEqual(clashA, clashB);
    fc.assert(fc.property(fc.array(opArb, { minLength: 1, maxLength: 25 }), (ops) => {
      const catalog = new RuleCatalog();
      const model = new Map<string, Rule>();
      for (const op of ops) {
        if (op.kind === 'select') {
          const keep = (rule: Rule) => !op.dropOdd || rule.seq % 2 === 0;
          const want = [...model.values()]
            .filter((r) => (op.cursor === undefined || r.id > op.cursor) && keep(r) && op.terms.every(([f, v]) => r[f] === v))
            .sort((a, b) => (a.id < b.id ? -1 : 1)).slice(0, op.max);
          const got = catalog.select(op.terms, op.cursor, op.max, keep);
          // The same objects: an update swapped the object the index refers to.
          assert.deepEqual(got.map((r) => r.id), want.map((r) => r.id), JSON.stringify(op));
          got.forEach((r, i) => assert.equal(r, want[i]));
          continue;
        }
        const picked = Array.from({ length: op.count }, (_, k) => (op.from + k * 7) % 800);
        if (op.kind === 'delete') {
          for (const i of picked) {
            const rule = model.get(ruleOf(i).id);
            if (rule === undefined) continue;
            catalog.delete(rule);
            model.delete(rule.id);
          }
        } else if (op.kind === 'set') {
          for (const i of picked) {
            const rule = ruleOf(i);
            const previous = model.get(rule.id);
            catalog.set(rule, previous);
            if (previous !== undefined) assert.equal(rule.seq, previous.seq, 'an update keeps its place');
            model.set(rule.id, rule);
          }
        } else {
          // setMany takes rules that replace none; a repeat within the batch keeps the first.
          const batch = picked.map(ruleOf).filter((rule) => !model.has(rule.id));
          catalog.setMany(batch);
          for (const rule of batch) if (!model.has(rule.id)) model.set(rule.id, rule);
        }
      }
    }), { seed: 1402, numRuns: 60 });
  });

  it('lists two values whose hashes collide apart, page by page', () => {
    const catalog = new RuleCatalog();
    const rules = inputs.map((_, i) => ruleOf(i));
    catalog.setMany(rules);
    for (const domain of [clashA, clashB]) {
      const want = rules.filter((r) => r.domain === domain).map((r) => r.id).sort();
      const walked: string[] = [];
      for (let cursor: string | undefined, page: Rule[] = []; ; cursor = page.at(-1)!.id) {
        page = catalog.select([['domain', domain]], cursor, 7, () => true);
        walked.push(...page.map((r) => r.id));
        if (page.length < 7) break;
      }
      assert.deepEqual(walked, want);
    }
  });

  it('refuses a cursor that is not an id rather than seek to a wrong place', () => {
    const catalog = new RuleCatalog();
    catalog.set(ruleOf(0), undefined);
    assert.throws(() => catalog.select([], 'ABCDEF0123456789abcd', 10, () => true), RangeError);
  });
});
