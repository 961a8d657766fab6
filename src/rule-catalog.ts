/**
 * The listing index: per filter field, the rules that bind it in (value, id) order. A filtered listing
 * walks the range of the rarest value its terms name instead of every rule, and a page seeks to its
 * cursor instead of skipping the pages before it.
 *
 * Each list holds references to the rules, sorted on the rules' own strings: no map entry per value
 * and no copied key, so the index costs a reference per rule and per bound field (measured in
 * docs/performance.md). Ids are derived from the whole selector and every filter field is part of the
 * selector, so an update (same id) keeps every position: it only swaps the object referenced.
 */
import { FILTER_FIELDS, type FilterTerm, matchesTerms } from './rule-filter.js';
import type { Rule } from './rule.js';
import { SortedList } from './sorted-list.js';

type Field = (typeof FILTER_FIELDS)[number];
type Value = string | boolean;

// `<` orders strings by code unit and `false` before `true`: one comparison serves every field.
const compareValues = (a: Value, b: Value) => (a < b ? -1 : a > b ? 1 : 0);
const byField = (field: Field) => (a: Rule, b: Rule) => compareValues(a[field]!, b[field]!) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * `rules` in (value, id) order. The values and ids are read once into arrays and an index array is
 * sorted: comparing array elements is several times cheaper than reading a field by name per comparison.
 */
function sortedBy(field: Field, rules: readonly Rule[]): Rule[] {
  const values = rules.map((rule) => rule[field]!);
  const ids = rules.map((rule) => rule.id);
  const order = Uint32Array.from(rules.keys()).sort((a, b) => compareValues(values[a]!, values[b]!) || (ids[a]! < ids[b]! ? -1 : ids[a]! > ids[b]! ? 1 : 0));
  return Array.from(order, (i) => rules[i]!);
}

/** Merges two id-ordered streams of rules into one in id order. */
function* mergeById(a: Iterator<Rule>, b: Iterator<Rule>): Generator<Rule, void, undefined> {
  let x = a.next();
  let y = b.next();
  while (!x.done && !y.done) {
    if (x.value.id < y.value.id) { yield x.value; x = a.next(); } else { yield y.value; y = b.next(); }
  }
  for (; !x.done; x = a.next()) yield x.value;
  for (; !y.done; y = b.next()) yield y.value;
}

/** The rules of `list` with `value` in `field` that `after` does not skip, in id order. */
function* range(list: SortedList<Rule>, field: Field, value: Value, after: (rule: Rule) => boolean): Generator<Rule, void, undefined> {
  for (const rule of list.from((r) => r[field]! < value || (r[field] === value && after(r)))) {
    if (rule[field] !== value) return; // the end of the value's range
    yield rule;
  }
}

const CLUSTER = FILTER_FIELDS.indexOf('cluster');

/**
 * @internal Maintained by `RuleIndex` on every install and removal, so it can never drift from the
 * match index. A bulk loader that installs rules without `RuleIndex.set` calls {@link RuleCatalog.set}
 * per rule itself.
 *
 * Every rule binds `cluster`, so its list, ordered by (cluster, id), holds every rule: the unfiltered
 * listing merges its two ranges instead of keeping a third list (a reference per rule less).
 */
export class RuleCatalog {
  #fields = FILTER_FIELDS.map((field) => new SortedList<Rule>(byField(field)));
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
   * Records rules that replace none (a store's snapshot at start-up): each list sorted once instead of
   * an insert per rule (measured: the inserts were ~40% of a million-rule `ready()`).
   */
  setMany(rules: readonly Rule[]): void {
    const byList: Rule[][] = FILTER_FIELDS.map(() => []);
    for (const rule of rules) {
      rule.seq = ++this.#seq;
      for (let f = 0; f < FILTER_FIELDS.length; f++) if (rule[FILTER_FIELDS[f]!] !== undefined) byList[f]!.push(rule);
    }
    for (let f = 0; f < FILTER_FIELDS.length; f++) if (byList[f]!.length > 0) this.#fields[f]!.addSorted(sortedBy(FILTER_FIELDS[f]!, byList[f]!));
  }

  /** Forgets `rule`. */
  delete(rule: Rule): void {
    for (let f = 0; f < FILTER_FIELDS.length; f++) if (rule[FILTER_FIELDS[f]!] !== undefined) this.#fields[f]!.delete(rule);
  }

  clear(): void {
    this.#fields = FILTER_FIELDS.map((field) => new SortedList<Rule>(byField(field)));
  }

  /**
   * Up to `max` rules after `cursor` in id order that have every term's value and pass `keep` (which
   * says whether the rule is live). Walks the smallest range the terms name, checking the other terms
   * on each rule: the cost is the seeks plus the rules walked, never the size of the rule set.
   */
  select(terms: readonly FilterTerm[], cursor: string | undefined, max: number, keep: (rule: Rule) => boolean): Rule[] {
    let best: [list: SortedList<Rule>, field: Field, value: Value] | undefined;
    let size = Infinity;
    for (const [f, v] of terms) {
      const list = this.#fields[FILTER_FIELDS.indexOf(f)]!;
      const n = list.count((r) => r[f]! < v, (r) => r[f]! > v, size);
      if (n === 0) return [];
      if (n < size) [best, size] = [[list, f, v], n];
    }
    const after = (r: Rule) => cursor !== undefined && r.id <= cursor;
    const everything = this.#fields[CLUSTER]!;
    const rules = best !== undefined ? range(...best, after) : mergeById(range(everything, 'cluster', false, after), range(everything, 'cluster', true, after));
    const out: Rule[] = [];
    for (const rule of rules) {
      if (keep(rule) && matchesTerms(rule, terms)) {
        out.push(rule);
        if (out.length >= max) break;
      }
    }
    return out;
  }
}
