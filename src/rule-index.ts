/**
 * The indexed rule set. Rules are grouped by shape (which selectors they bind, plus the wildcard depth
 * or CIDR prefix of the remote selector); each occupied shape is one hash map from a composite key to
 * its rules. A lookup builds the attempt's key for every occupied shape and probes it, so its cost
 * depends on the number of occupied shapes (at most a few hundred, usually a handful) and of the
 * attempt's tags, never on the number of rules.
 *
 * Every mutation is one synchronous call: JavaScript runs it to completion, so a lookup never sees half
 * of it. Copy-on-write snapshots would cost O(rules) per change for no gain in a single thread.
 */
import type { NormalizedAttempt } from './attempt.js';
import { networkKey } from './ip.js';
import { comparePrecedence } from './precedence.js';
import { BIT, KEY_SEPARATOR, type Rule } from './rule.js';

/** Rules sharing a shape and key differ only in `cluster`: at most two, kept as a rule or a pair. */
type Slot = Rule | Rule[];

interface Shape {
  readonly id: number;
  readonly mask: number;
  /** 0 exact, 1-127 wildcard labels, 128-160 IPv4 prefix 0-32, 161-289 IPv6 prefix 0-128. */
  readonly variant: number;
  readonly slots: Map<string, Slot>;
}

const EMPTY: readonly Rule[] = Object.freeze([]);

export class RuleIndex {
  readonly #byId = new Map<string, Rule>();
  readonly #shapes = new Map<number, Shape>();
  /** Occupied shapes as an array: iterating it is faster than iterating the map on the hot path. */
  #occupied: Shape[] = [];

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
    const previous = this.#byId.get(rule.id);
    if (previous) this.#unlink(previous);
    this.#byId.set(rule.id, rule);
    let shape = this.#shapes.get(rule.shape);
    if (!shape) {
      shape = { id: rule.shape, mask: rule.mask, variant: rule.shape >> 6, slots: new Map() };
      this.#shapes.set(rule.shape, shape);
      this.#occupied = [...this.#shapes.values()];
    }
    const slot = shape.slots.get(rule.key);
    shape.slots.set(rule.key, slot === undefined ? rule : Array.isArray(slot) ? [...slot, rule] : [slot, rule]);
    return previous;
  }

  /** Removes the rule with `id`; returns it. */
  delete(id: string): Rule | undefined {
    const rule = this.#byId.get(id);
    if (!rule) return undefined;
    this.#byId.delete(id);
    this.#unlink(rule);
    return rule;
  }

  clear(): void {
    this.#byId.clear();
    this.#shapes.clear();
    this.#occupied = [];
  }

  #unlink(rule: Rule): void {
    const shape = this.#shapes.get(rule.shape)!;
    const slot = shape.slots.get(rule.key)!;
    const rest = Array.isArray(slot) ? slot.filter((r) => r.id !== rule.id) : [];
    if (rest.length === 0) shape.slots.delete(rule.key);
    else shape.slots.set(rule.key, rest.length === 1 ? rest[0]! : rest);
    if (shape.slots.size === 0) {
      this.#shapes.delete(shape.id);
      this.#occupied = [...this.#shapes.values()];
    }
  }

  /** Every rule matching `a` (ignoring expiry), in precedence order. */
  candidates(a: NormalizedAttempt): readonly Rule[] {
    const available = (a.pool !== undefined ? BIT.pool : 0) | (a.mta !== undefined ? BIT.mta : 0)
      | (a.domain !== undefined ? BIT.domain : 0) | (a.ip !== undefined ? BIT.ip : 0)
      | (a.recipient !== undefined ? BIT.recipient : 0) | (a.tags.length > 0 ? BIT.tag : 0);
    let found: Rule[] | undefined;
    let labels: string[] | undefined;
    for (const shape of this.#occupied) {
      const mask = shape.mask;
      if ((mask & ~available) !== 0) continue;
      let key = '';
      if (mask & BIT.pool) key = a.pool!;
      else if (mask & BIT.mta) key = a.mta!;
      if (mask & BIT.domain) {
        let part = a.domain!;
        if (shape.variant !== 0) {
          labels ??= part.split('.');
          if (labels.length <= shape.variant) continue;
          part = labels.slice(labels.length - shape.variant).join('.');
        }
        key = key === '' ? part : key + KEY_SEPARATOR + part;
      } else if (mask & BIT.ip) {
        const ip = a.ip!;
        let part = ip.text;
        if (shape.variant !== 0) {
          const v4 = shape.variant < 161;
          if ((ip.family === 4) !== v4) continue;
          part = networkKey(ip, shape.variant - (v4 ? 128 : 161));
        }
        key = key === '' ? part : key + KEY_SEPARATOR + part;
      } else if (mask & BIT.recipient) {
        key = key === '' ? a.recipient! : key + KEY_SEPARATOR + a.recipient!;
      }
      if (mask & BIT.tag) {
        for (const tag of a.tags) found = collect(shape.slots.get(key === '' ? tag : key + KEY_SEPARATOR + tag), a, found);
      } else {
        found = collect(shape.slots.get(key), a, found);
      }
    }
    if (found === undefined) return EMPTY;
    return found.length > 1 ? found.sort(comparePrecedence) : found;
  }
}

function collect(slot: Slot | undefined, a: NormalizedAttempt, into: Rule[] | undefined): Rule[] | undefined {
  if (slot === undefined) return into;
  for (const rule of Array.isArray(slot) ? slot : [slot]) {
    if (a.phase !== undefined && rule.phase !== a.phase) continue;
    (into ??= []).push(rule);
  }
  return into;
}
