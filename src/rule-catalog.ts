/**
 * The listing index: every rule in id order, and per filter field the rules that bind it in (value, id)
 * order. A filtered listing walks the range of the rarest value its terms name instead of every rule,
 * and a page seeks to its cursor instead of skipping the pages before it.
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
const byId = (a: Rule, b: Rule) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const byField = (field: Field) => (a: Rule, b: Rule) => compareValues(a[field]!, b[field]!) || byId(a, b);

/**
 * @internal Maintained by `RuleIndex` on every install and removal, so it can never drift from the
 * match index. A bulk loader that installs rules without `RuleIndex.set` calls {@link RuleCatalog.set}
 * per rule itself.
 */
export class RuleCatalog {
  #all = new SortedList<Rule>(byId);
  #fields = FILTER_FIELDS.map((field) => new SortedList<Rule>(byField(field)));
  #seq = 0;

  /** Records `rule`, which replaces `previous` (same id) when given: an update keeps its listing place. */
  set(rule: Rule, previous: Rule | undefined): void {
    if (previous !== undefined) {
      rule.seq = previous.seq;
      this.#all.replace(rule);
      for (let f = 0; f < FILTER_FIELDS.length; f++) if (rule[FILTER_FIELDS[f]!] !== undefined) this.#fields[f]!.replace(rule);
      return;
    }
    rule.seq = ++this.#seq;
    if (!this.#all.add(rule)) return; // recorded already: every list holds it
    for (let f = 0; f < FILTER_FIELDS.length; f++) if (rule[FILTER_FIELDS[f]!] !== undefined) this.#fields[f]!.add(rule);
  }

  /** Forgets `rule`. */
  delete(rule: Rule): void {
    if (!this.#all.delete(rule)) return;
    for (let f = 0; f < FILTER_FIELDS.length; f++) if (rule[FILTER_FIELDS[f]!] !== undefined) this.#fields[f]!.delete(rule);
  }

  clear(): void {
    this.#all = new SortedList<Rule>(byId);
    this.#fields = FILTER_FIELDS.map((field) => new SortedList<Rule>(byField(field)));
  }

  /**
   * Up to `max` rules after `cursor` in id order that have every term's value and pass `keep` (which
   * says whether the rule is live). Walks the smallest range the terms name, checking the other terms
   * on each rule: the cost is the seeks plus the rules walked, never the size of the rule set.
   */
  select(terms: readonly FilterTerm[], cursor: string | undefined, max: number, keep: (rule: Rule) => boolean): Rule[] {
    let list = this.#all;
    let field: Field | undefined;
    let value: Value | undefined;
    let size = this.#all.size;
    for (const [f, v] of terms) {
      const candidate = this.#fields[FILTER_FIELDS.indexOf(f)]!;
      const n = candidate.count((r) => r[f]! < v, (r) => r[f]! > v, size);
      if (n === 0) return [];
      if (n < size) [list, field, value, size] = [candidate, f, v, n];
    }
    const out: Rule[] = [];
    const after = (r: Rule) => cursor !== undefined && r.id <= cursor;
    const past = field === undefined ? after : (r: Rule) => r[field]! < value! || (r[field] === value && after(r));
    for (const rule of list.from(past)) {
      if (field !== undefined && rule[field] !== value) break; // the end of the value's range
      if (keep(rule) && matchesTerms(rule, terms)) {
        out.push(rule);
        if (out.length >= max) break;
      }
    }
    return out;
  }
}
