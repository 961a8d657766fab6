/**
 * The listing index: per filter field, the rules that bind it in (value, id) order. A filtered listing
 * walks the range of the rarest value its terms name instead of every rule, and a page seeks to its
 * cursor instead of skipping the pages before it.
 *
 * Each list holds references to the rules beside a numeric key per rule (the value's hash and the id's
 * prefix, `catalog-keys.ts`): no map entry per value and no copied string, so the index costs a
 * reference, an 8-byte key and a 2-byte slot per rule and per bound field (measured in
 * docs/performance.md), and a search compares numbers instead of reading rules. Ids are derived from the whole selector and every filter
 * field is part of the selector, so an update (same id) keeps every position: it only swaps the object
 * referenced.
 */
import { idOrder, listKey, packKey, rangeStart, sortByKeys, VALUE_SPAN, valueHash } from './catalog-keys.js';
import { FILTER_FIELDS, type FilterTerm, matchesTerms } from './rule-filter.js';
import type { Rule } from './rule.js';
import { type Cursor, SortedList } from './sorted-list.js';

type Field = (typeof FILTER_FIELDS)[number];

const byId = (a: Rule, b: Rule) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const listOf = (field: Field) => new SortedList<Rule>((rule) => listKey(rule[field]!, rule.id), byId);
const CLUSTER = FILTER_FIELDS.indexOf('cluster');

/**
 * Each field's value by a property read of its own, one shape per read site: `rule[field]` read in id
 * order (a megamorphic keyed read, rules in random memory order) cost ~200 ns per rule and field.
 */
const VALUE_OF: { readonly [F in Field]: (rule: Rule) => string | boolean | undefined } = {
  pool: (r) => r.pool, mta: (r) => r.mta, domain: (r) => r.domain, ip: (r) => r.ip, recipient: (r) => r.recipient,
  tag: (r) => r.tag, sender: (r) => r.sender, mx: (r) => r.mx, cluster: (r) => r.cluster,
};
/** Not a hash: {@link valueHash} fits in 31 bits. */
const ABSENT = 0xffffffff;

/** The hash of each rule's value in `field` (ABSENT where it binds none), or undefined when no rule binds it. */
function hashesOf(field: Field, rules: readonly Rule[]): Uint32Array | undefined {
  const valueOf = VALUE_OF[field];
  let out: Uint32Array | undefined;
  for (let i = 0; i < rules.length; i++) {
    const value = valueOf(rules[i]!);
    if (value === undefined) continue;
    out ??= new Uint32Array(rules.length).fill(ABSENT);
    out[i] = valueHash(value);
  }
  return out;
}

/**
 * @internal Maintained by `RuleIndex` on every install and removal, so it can never drift from the
 * match index. A bulk loader that installs rules without `RuleIndex.set` calls {@link RuleCatalog.set}
 * per rule itself.
 *
 * Every rule binds `cluster`, so its list, ordered by (cluster, id), holds every rule: the unfiltered
 * listing merges its two ranges instead of keeping a third list (a reference and a key per rule less).
 */
export class RuleCatalog {
  #fields = FILTER_FIELDS.map(listOf);
  #seq = 0;

  /** Records `rule`, which replaces `previous` (same id) when given: an update keeps its listing place. */
  set(rule: Rule, previous: Rule | undefined): void {
    if (previous !== undefined) {
      rule.seq = previous.seq;
      for (let f = 0; f < FILTER_FIELDS.length; f++) if (rule[FILTER_FIELDS[f]!] !== undefined) this.#fields[f]!.replace(rule);
      return;
    }
    rule.seq = ++this.#seq;
    if (!this.#fields[CLUSTER]!.add(rule)) return; // recorded already: every list holds it
    for (let f = 0; f < FILTER_FIELDS.length; f++) if (f !== CLUSTER && rule[FILTER_FIELDS[f]!] !== undefined) this.#fields[f]!.add(rule);
  }

  /**
   * Records rules that replace none (a store's snapshot at start-up), as `set` would one by one: the
   * rules are sorted by id once, then each list groups them by value with a stable radix sort of the
   * value hashes, and its chunks are built directly (no comparison sort, no insert per rule).
   */
  setMany(rules: readonly Rule[]): void {
    for (const rule of rules) rule.seq = ++this.#seq;
    const { order, prefixes } = idOrder(rules);
    const members = new Uint32Array(order.length);
    const hashes = new Uint32Array(order.length);
    for (let f = 0; f < FILTER_FIELDS.length; f++) {
      // Hashed in the rules' own order (the order they lie in memory), then read in id order.
      const byRule = hashesOf(FILTER_FIELDS[f]!, rules);
      if (byRule === undefined) continue;
      let m = 0;
      for (let k = 0; k < order.length; k++) {
        const i = order[k]!;
        if (byRule[i] === ABSENT) continue;
        members[m] = i;
        hashes[m++] = byRule[i]!;
      }
      const items = members.subarray(0, m);
      const byValue = hashes.subarray(0, m);
      sortByKeys(items, byValue); // stable: id order within each value
      const keys = new Float64Array(m);
      for (let k = 0; k < m; k++) keys[k] = packKey(byValue[k]!, prefixes[items[k]!]!);
      this.#fields[f]!.addSorted(rules, keys, items);
    }
  }

  /** Forgets `rule`. */
  delete(rule: Rule): void {
    for (let f = 0; f < FILTER_FIELDS.length; f++) if (rule[FILTER_FIELDS[f]!] !== undefined) this.#fields[f]!.delete(rule);
  }

  clear(): void {
    this.#fields = FILTER_FIELDS.map(listOf);
  }

  /**
   * Up to `max` rules after `cursor` in id order that have every term's value and pass `keep` (which
   * says whether the rule is live). Walks the smallest range the terms name, checking the other terms
   * on each rule: the cost is the seeks plus the rules walked, never the size of the rule set.
   */
  select(terms: readonly FilterTerm[], cursor: string | undefined, max: number, keep: (rule: Rule) => boolean): Rule[] {
    let best: Cursor<Rule> | undefined;
    let size = Infinity;
    for (const [field, value] of terms) {
      const list = this.#fields[FILTER_FIELDS.indexOf(field)]!;
      const start = rangeStart(value, undefined);
      const n = list.count(start, start + VALUE_SPAN, size);
      if (n === 0) return [];
      if (n < size) [best, size] = [list.range(rangeStart(value, cursor), start + VALUE_SPAN), n];
    }
    const out: Rule[] = [];
    const take = (rule: Rule) => (cursor === undefined || rule.id > cursor) && keep(rule) && matchesTerms(rule, terms) && out.push(rule) >= max;
    if (best !== undefined) {
      for (let rule = best.next(); rule !== undefined; rule = best.next()) if (take(rule)) break;
      return out;
    }
    // No term: every rule, from the two ranges of the cluster list merged by id.
    const everything = this.#fields[CLUSTER]!;
    const a = everything.range(rangeStart(false, cursor), rangeStart(false, undefined) + VALUE_SPAN);
    const b = everything.range(rangeStart(true, cursor), rangeStart(true, undefined) + VALUE_SPAN);
    for (let x = a.next(), y = b.next(); x !== undefined || y !== undefined;) {
      let rule: Rule;
      if (y === undefined || (x !== undefined && x.id < y.id)) [rule, x] = [x!, a.next()];
      else [rule, y] = [y, b.next()];
      if (take(rule)) break;
    }
    return out;
  }
}
