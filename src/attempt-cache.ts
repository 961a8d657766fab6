/**
 * Memo of attempt -> candidate rules, bounded by an LRU.
 *
 * The LRU is keyed by one field of the attempt (recipient, else domain, ip, first tag, mta, pool) and
 * holds a few entries that compare the other raw fields with `===`. Building one string key from all
 * fields would cost a concatenation plus hashing a fresh string (measured: ~200 ns per check on V8,
 * more than the LRU itself); the field strings usually come from the caller's message objects and
 * already carry their hash. Comparing raw values also rules out aliasing between distinct attempts.
 */
import { LRUCache } from 'lru-cache';
import type { Attempt } from './attempt.js';
import type { Rule } from './rule.js';

interface Entry {
  readonly pool: string | undefined;
  readonly mta: string | undefined;
  readonly domain: string | undefined;
  readonly ip: string | undefined;
  readonly recipient: string | undefined;
  readonly phase: string | undefined;
  readonly sender: string | undefined;
  readonly mx: string | undefined;
  /** A copy: the caller may reuse and mutate its array. */
  readonly tags: string | readonly string[] | undefined;
  readonly rules: readonly Rule[];
}

/** Counts cache hits, process-wide: one in eight refreshes recency. A plain variable, read on every check. */
let lookups = 0;

/** Entries kept per LRU key; more variants of one recipient than this replace the oldest. */
const VARIANTS = 8;

function primary(a: Attempt): string {
  const tags = a.tags;
  return a.recipient ?? a.domain ?? a.ip ?? (typeof tags === 'string' ? tags : tags?.[0]) ?? a.mta ?? a.pool ?? '';
}

function matches(e: Entry, a: Attempt): boolean {
  return e.recipient === a.recipient && e.domain === a.domain && e.ip === a.ip && e.mta === a.mta
    && e.pool === a.pool && e.phase === a.phase && e.sender === a.sender && e.mx === a.mx && sameTags(e.tags, a.tags);
}

function sameTags(x: string | readonly string[] | undefined, y: string | readonly string[] | undefined): boolean {
  if (x === y) return true;
  if (typeof x !== 'object' || typeof y !== 'object' || x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

export class AttemptCache {
  /** Decides what stays: bounded, least recently used evicted first. */
  readonly #lru: LRUCache<string, Entry | Entry[]>;
  /**
   * Mirrors the LRU's entries for the read path. A hit reads this Map and refreshes the LRU's recency
   * on one hit in eight: lru-cache's `get` costs about twice a `Map.get` (measured, lru-cache 11 on
   * Node 20), half of a cached check. A key hit repeatedly is still refreshed long before eviction;
   * eviction removes the key from both.
   */
  readonly #entries = new Map<string, Entry | Entry[]>();

  /** `max` bounds the number of distinct keys (recipients, in the usual case). */
  constructor(max: number) {
    this.#lru = new LRUCache({ max, dispose: (_value, key) => this.#entries.delete(key) });
  }

  get(a: Attempt): readonly Rule[] | undefined {
    const key = primary(a);
    const found = this.#entries.get(key);
    if (found === undefined) return undefined;
    if ((++lookups & 7) === 0) this.#lru.get(key);
    // One entry per key is the usual case: it is stored bare, without an array around it.
    if (!Array.isArray(found)) return matches(found, a) ? found.rules : undefined;
    for (let i = 0; i < found.length; i++) if (matches(found[i]!, a)) return found[i]!.rules;
    return undefined;
  }

  set(a: Attempt, rules: readonly Rule[]): void {
    const key = primary(a);
    const tags = a.tags;
    const entry: Entry = {
      pool: a.pool, mta: a.mta, domain: a.domain, ip: a.ip, recipient: a.recipient, phase: a.phase, sender: a.sender, mx: a.mx,
      tags: typeof tags === 'object' && tags !== null ? [...tags] : tags, rules,
    };
    const found = this.#lru.get(key);
    if (found === undefined) {
      this.#lru.set(key, entry);
      this.#entries.set(key, entry);
    } else {
      const list = Array.isArray(found) ? found : [found];
      if (list.length >= VARIANTS) list.shift();
      list.push(entry);
      if (list !== found) {
        this.#lru.set(key, list); // replacing the value disposes the old one: mirror after
        this.#entries.set(key, list);
      }
    }
  }

  clear(): void {
    if (this.#lru.size === 0) return;
    this.#lru.clear(); // disposes every entry, emptying the mirror too
    this.#entries.clear();
  }

  /** Number of keys held (for tests). */
  get size(): number {
    return this.#entries.size;
  }
}
