/**
 * The indexed rule set. Rules are grouped by shape (which selectors they bind, plus the wildcard depth
 * or CIDR prefix of the remote selector); each occupied shape is one hash map from a composite key to
 * its rules, fronted by a Bloom filter (`index-shape.ts`), probed per attempt by `rule-lookup.ts`.
 *
 * Every mutation is one synchronous call: JavaScript runs it to completion, so a lookup never sees half
 * of it. Copy-on-write snapshots would cost O(rules) per change for no gain in a single thread.
 */
import type { NormalizedAttempt } from './attempt.js';
import { SmtpInterceptError } from './errors.js';
import { formatShape, keyHash, newShape, rebuild, type Shape } from './index-shape.js';
import { RuleCatalog } from './rule-catalog.js';
import { ENVELOPE, lookup } from './rule-lookup.js';
import type { Rule } from './rule.js';

/** The rule set's match index (shapes) and listing index (`catalog`), changed together. */
export class RuleIndex {
  readonly #byId = new Map<string, Rule>();
  readonly #shapes = new Map<number, Shape>();
  /** Occupied shapes as an array: iterating it is faster than iterating the map on the hot path. */
  #occupied: Shape[] = [];
  /** Whether any occupied shape binds sender or mx: otherwise their hashes are never computed. */
  #envelope = false;
  /**
   * The listing index, kept in step here so that it never drifts from the match index; `undefined`
   * after a load into an empty index until something lists (see `catalog`).
   */
  #catalog: RuleCatalog | undefined = new RuleCatalog();

  /**
   * The listing index. A load into an empty index (a start-up) leaves it to be built here, at the first
   * listing, from the rules in insertion order: `check` never needs it, and its sorts were about a
   * sixth of a million-rule start-up (docs/performance.md, Start-up). Built from every rule installed
   * then, it lists exactly what a catalog kept in step since the load would list.
   */
  get catalog(): RuleCatalog {
    if (this.#catalog === undefined) {
      this.#catalog = new RuleCatalog();
      this.#catalog.setMany([...this.#byId.values()]);
    }
    return this.#catalog;
  }

  /** Number of rules. */
  get size(): number {
    return this.#byId.size;
  }

  get(id: string): Rule | undefined {
    return this.#byId.get(id);
  }

  /** Rules in insertion order (an update keeps its place). */
  values(): IterableIterator<Rule> {
    return this.#byId.values();
  }

  /** Inserts `rule`, replacing the rule with the same id; returns the replaced one. */
  set(rule: Rule): Rule | undefined {
    const previous = this.#link(rule);
    this.#catalog?.set(rule, previous);
    return previous;
  }

  /**
   * Inserts many rules (a store's snapshot), as `set` would one by one, then calls `each` with every
   * rule and the one it replaced. Each shape's key filter is sized once for all its new keys, and the
   * listing index sorts its lists once, instead of growing with every rule.
   */
  load(rules: readonly Rule[], each: (rule: Rule, previous: Rule | undefined) => void): void {
    // Into an empty index the listing index waits for the first listing (see `catalog`).
    if (this.#byId.size === 0) this.#catalog = undefined;
    const added = new Map<number, number>();
    for (const rule of rules) added.set(rule.shape, (added.get(rule.shape) ?? 0) + 1);
    for (const [id, count] of added) rebuild(this.#shapes.get(id) ?? this.#occupy(id), count);
    // Rules that replaced one: absent in the usual case (a first load), when the batch itself goes to
    // the catalog as it is (measured: a map of a million fresh rules cost ~1 s of a million-rule load).
    let replaced: (Rule | undefined)[] | undefined;
    for (let i = 0; i < rules.length; i++) {
      const previous = this.#link(rules[i]!);
      if (previous !== undefined) (replaced ??= new Array<Rule | undefined>(rules.length))[i] = previous;
    }
    const catalog = this.#catalog;
    if (catalog !== undefined) {
      if (replaced === undefined) catalog.setMany(rules);
      else this.#catalogue(catalog, rules, replaced);
    }
    for (let i = 0; i < rules.length; i++) each(rules[i]!, replaced?.[i]);
  }

  /** The catalog's part of a `load` where some rules replaced one (an update, or a duplicate id in the batch). */
  #catalogue(catalog: RuleCatalog, rules: readonly Rule[], replaced: readonly (Rule | undefined)[]): void {
    // Rules new to the catalog (replacing none, or one of this batch): recorded together.
    const fresh = new Map<string, Rule>();
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!;
      const previous = replaced[i];
      if (previous === undefined || fresh.get(rule.id) === previous) fresh.set(rule.id, rule);
      else catalog.set(rule, previous);
    }
    catalog.setMany([...fresh.values()]);
  }

  /**
   * Puts `rule` into the match index (replacing its id); returns the replaced rule. An id derives from
   * the whole selector, so a rule it replaces has the same shape and key: it is found in the slot, and a
   * new id costs no lookup by id (measured: the four big-map operations per rule were ~40% of a
   * million-rule restore; this is one of them).
   */
  #link(rule: Rule): Rule | undefined {
    let shape = this.#shapes.get(rule.shape) ?? this.#occupy(rule.shape);
    let slot = shape.slots.get(rule.key);
    const previous = slot === undefined ? undefined : Array.isArray(slot) ? slot.find((r) => r.id === rule.id) : slot.id === rule.id ? slot : undefined;
    if (previous) {
      this.#unlink(previous); // may empty the slot, or the shape
      shape = this.#shapes.get(rule.shape) ?? this.#occupy(rule.shape);
      slot = shape.slots.get(rule.key);
    }
    const size = this.#byId.size;
    this.#byId.set(rule.id, rule);
    if (previous === undefined && this.#byId.size === size) {
      throw new SmtpInterceptError('internal', `rule ${rule.id} would replace a rule of another selector (ids derive from the selector)`);
    }
    shape.slots.set(rule.key, slot === undefined ? rule : Array.isArray(slot) ? [...slot, rule] : [slot, rule]);
    if (slot === undefined && shape.filter.add(keyHash(shape, rule.key))) rebuild(shape, 0);
    return previous;
  }

  /** Removes the rule with `id`; returns it. */
  delete(id: string): Rule | undefined {
    const rule = this.#byId.get(id);
    if (!rule) return undefined;
    this.#byId.delete(id);
    this.#unlink(rule);
    this.#catalog?.delete(rule);
    return rule;
  }

  clear(): void {
    this.#byId.clear();
    this.#shapes.clear();
    this.#catalog?.clear();
    this.#reshaped();
  }

  #reshaped(): void {
    this.#occupied = [...this.#shapes.values()];
    this.#envelope = this.#occupied.some((shape) => (shape.mask & ENVELOPE) !== 0);
  }

  /** A new, empty shape (an index shape id is the rule's `shape`). */
  #occupy(id: number): Shape {
    const shape = newShape(id);
    this.#shapes.set(id, shape);
    this.#reshaped();
    return shape;
  }

  #unlink(rule: Rule): void {
    const shape = this.#shapes.get(rule.shape)!;
    const slot = shape.slots.get(rule.key)!;
    const rest = Array.isArray(slot) ? slot.filter((r) => r.id !== rule.id) : [];
    if (rest.length > 0) {
      shape.slots.set(rule.key, rest.length === 1 ? rest[0]! : rest);
      return;
    }
    shape.slots.delete(rule.key);
    if (shape.slots.size === 0) {
      this.#shapes.delete(shape.id);
      this.#reshaped();
    } else if (shape.filter.remove()) {
      rebuild(shape, 0);
    }
  }

  /**
   * A readable dump of the index: one line per occupied shape (bound selectors, lookup variant, keys,
   * rules), in a stable order. For debugging and for tests that pin the index layout.
   */
  format(): string {
    return [...this.#shapes.values()].sort((a, b) => a.id - b.id).map(formatShape).join('\n');
  }

  /** Every rule matching `a` (ignoring expiry), in precedence order (`rule-lookup.ts`). */
  candidates(a: NormalizedAttempt): readonly Rule[] {
    return lookup(this.#occupied, this.#envelope, a);
  }
}
