/**
 * The listing index: every rule id in sorted order, and per filter field a map from value to the sorted
 * ids of the rules with that value. A filtered listing walks the smallest bucket its terms name instead
 * of every rule, and a page seeks to its cursor instead of skipping the pages before it.
 *
 * Ids are derived from the whole selector, and every filter field is part of the selector, so an update
 * (same id) never changes which buckets a rule is in: only adding and deleting a rule touch the catalog.
 */
import { FILTER_FIELDS, type FilterTerm, matchesTerms } from './rule-filter.js';
import type { Rule } from './rule.js';
import { CHUNK, seek, SortedIds } from './sorted-ids.js';

/**
 * The ids of one field value. Most values name one rule or a few (a domain, a recipient), so a bucket
 * is the id itself, then a sorted array, and a chunked set only past CHUNK ids: a set object per value
 * would cost ~150 bytes for each of a million single-rule domains.
 */
type Bucket = string | string[] | SortedIds;
type Value = string | boolean;

function bucketSize(bucket: Bucket): number {
  return typeof bucket === 'string' ? 1 : Array.isArray(bucket) ? bucket.length : bucket.size;
}

function addTo(buckets: Map<Value, Bucket>, value: Value, id: string): void {
  const bucket = buckets.get(value);
  if (bucket === undefined) buckets.set(value, id);
  else if (typeof bucket === 'string') buckets.set(value, bucket < id ? [bucket, id] : [id, bucket]);
  else if (!Array.isArray(bucket)) bucket.add(id);
  else if (bucket.length < CHUNK) bucket.splice(seek(bucket, id, false), 0, id);
  else {
    const set = SortedIds.from(bucket);
    set.add(id);
    buckets.set(value, set);
  }
}

function deleteFrom(buckets: Map<Value, Bucket>, value: Value, id: string): void {
  const bucket = buckets.get(value);
  if (bucket === undefined) return;
  if (typeof bucket === 'string') {
    if (bucket === id) buckets.delete(value);
  } else if (Array.isArray(bucket)) {
    const at = seek(bucket, id, false);
    if (bucket[at] === id) bucket.splice(at, 1);
    if (bucket.length === 1) buckets.set(value, bucket[0]!);
  } else if (bucket.delete(id) && bucket.size === 0) {
    buckets.delete(value);
  }
}

function* idsAfter(bucket: Bucket, cursor: string | undefined): Generator<string, void, undefined> {
  if (typeof bucket === 'string') {
    if (cursor === undefined || bucket > cursor) yield bucket;
  } else if (Array.isArray(bucket)) {
    for (let i = cursor === undefined ? 0 : seek(bucket, cursor, true); i < bucket.length; i++) yield bucket[i]!;
  } else {
    yield* bucket.after(cursor);
  }
}

/**
 * @internal Maintained by `RuleIndex` on every install and removal, so it can never drift from the
 * match index. A bulk loader that installs rules without `RuleIndex.set` calls {@link RuleCatalog.set}
 * per rule itself.
 */
export class RuleCatalog {
  #all = new SortedIds();
  readonly #fields: Map<Value, Bucket>[] = FILTER_FIELDS.map(() => new Map());
  #seq = 0;

  /** Records `rule`, which replaces `previous` (same id) when given: an update keeps its listing place. */
  set(rule: Rule, previous: Rule | undefined): void {
    if (previous !== undefined) {
      rule.seq = previous.seq;
      return;
    }
    rule.seq = ++this.#seq;
    const id = rule.id;
    if (!this.#all.add(id)) return; // recorded already: its buckets hold it
    for (let f = 0; f < FILTER_FIELDS.length; f++) {
      const value = rule[FILTER_FIELDS[f]!];
      if (value !== undefined) addTo(this.#fields[f]!, value, id);
    }
  }

  /** Forgets `rule`. */
  delete(rule: Rule): void {
    const id = rule.id;
    this.#all.delete(id);
    for (let f = 0; f < FILTER_FIELDS.length; f++) {
      const value = rule[FILTER_FIELDS[f]!];
      if (value !== undefined) deleteFrom(this.#fields[f]!, value, id);
    }
  }

  clear(): void {
    this.#all = new SortedIds();
    for (const buckets of this.#fields) buckets.clear();
  }

  /**
   * Up to `max` rules after `cursor` in id order that have every term's value and pass `keep` (which
   * says whether the rule is live). Walks the smallest bucket the terms name, checking the other terms
   * on each rule: the cost is the seek plus the ids walked, never the size of the rule set.
   */
  select(terms: readonly FilterTerm[], cursor: string | undefined, max: number, get: (id: string) => Rule | undefined, keep: (rule: Rule) => boolean): Rule[] {
    let smallest: Bucket = this.#all;
    let size = this.#all.size;
    for (const [field, value] of terms) {
      const bucket = this.#fields[FILTER_FIELDS.indexOf(field)]!.get(value);
      if (bucket === undefined) return [];
      const n = bucketSize(bucket);
      if (n < size) { smallest = bucket; size = n; }
    }
    const out: Rule[] = [];
    if (max <= 0) return out;
    for (const id of idsAfter(smallest, cursor)) {
      const rule = get(id);
      if (rule !== undefined && keep(rule) && matchesTerms(rule, terms)) {
        out.push(rule);
        if (out.length === max) break;
      }
    }
    return out;
  }
}
