/**
 * The live set of a `FileStore`: where in the journal each live rule's `put` record lies, and the
 * counters saved for it since, never the rule itself. A million parsed rules kept for compaction
 * doubled the heap of a loaded interceptor and slowed every garbage collection; this keeps an id, a
 * slot number and five numbers in typed arrays per rule. Internal to `smtp-intercept/stores/file`.
 */
import { type CounterDelta, withCounters } from '../store.js';
import type { RuleJSON } from '../rule.js';
import type { JournalRecord } from './file-journal.js';

/** The live set at one instant: its slots in order and copies of their numbers (see `LiveSet.freeze`). */
export interface Frozen {
  /** Live slots, in the order of their records in the journal (the order they were last stored). */
  readonly slots: Int32Array;
  readonly offset: Float64Array;
  readonly length: Uint32Array;
  readonly hits: Float64Array;
  readonly used: Float64Array;
}

/** Where the compacted file holds each slot's record (indexed by slot). */
export interface Placed {
  readonly offset: Float64Array;
  readonly length: Uint32Array;
}

/**
 * Live rules by id. A slot numbers a live rule; its record is `length` bytes at `offset` of the
 * journal (without the newline), and `hits`/`used` are what counters records added to it since.
 */
export class LiveSet {
  readonly #slots = new Map<string, number>();
  /** Slots freed by deletes, reused by puts: never more than the most rules live at once. */
  #free: number[] = [];
  #next = 0;
  #revision: string[] = [];
  #offset = new Float64Array(1024);
  #length = new Uint32Array(1024);
  /** `times` of the record, NaN without one. */
  #times = new Float64Array(1024);
  #hits = new Float64Array(1024);
  #used = new Float64Array(1024);

  get size(): number {
    return this.#slots.size;
  }

  /** The slot of a live id. */
  slot(id: string): number | undefined {
    return this.#slots.get(id);
  }

  /** Records a `put` of `rule` written as `length` bytes at `offset`; returns its slot. */
  put(rule: Pick<RuleJSON, 'id' | 'revision' | 'times'>, offset: number, length: number): number {
    let slot = this.#slots.get(rule.id);
    if (slot === undefined) slot = this.#free.pop() ?? this.#grow();
    // A stored rule moves to the end: the order of the ids is the order of their records in the file,
    // so a compaction reads the journal front to back in large reads (one read per record, in the
    // first-stored order, made a compaction of 100,000 rules updated in random order 38x slower).
    else this.#slots.delete(rule.id);
    this.#slots.set(rule.id, slot);
    this.#revision[slot] = rule.revision ?? '';
    this.#offset[slot] = offset;
    this.#length[slot] = length;
    this.#times[slot] = typeof rule.times === 'number' ? rule.times : Number.NaN;
    this.#hits[slot] = this.#used[slot] = 0;
    return slot;
  }

  /** Applies one acknowledged record, written as `length` bytes (without the newline) at `offset`. */
  apply(record: JournalRecord, offset: number, length: number): void {
    if ('put' in record) this.put(record.put, offset, length);
    else if ('delete' in record) for (const id of record.delete) this.delete(id);
    else if ('clear' in record) this.clear();
    else for (const [id, revision, hits, used] of record.counters) this.count({ id, revision, hits, used });
  }

  /** Removes an id; returns the slot it had. */
  delete(id: string): number | undefined {
    const slot = this.#slots.get(id);
    if (slot === undefined) return undefined;
    this.#slots.delete(id);
    this.#revision[slot] = '';
    this.#free.push(slot);
    return slot;
  }

  clear(): void {
    this.#slots.clear();
    this.#free = [];
    this.#revision = [];
    this.#next = 0;
  }

  /**
   * Applies one counters row (`RuleStore.saveCounters`: only the stored revision counts). Returns the
   * slot it changed, `-slot - 1` for a rule it used up (removed), undefined when it did not apply.
   */
  count(delta: CounterDelta): number | undefined {
    const slot = this.#slots.get(delta.id);
    if (slot === undefined || this.#revision[slot] !== delta.revision) return undefined;
    this.#hits[slot]! += delta.hits;
    this.#used[slot]! += delta.used;
    if (this.#times[slot]! - this.#used[slot]! > 0 || Number.isNaN(this.#times[slot])) return slot;
    this.delete(delta.id);
    return -slot - 1;
  }

  /** Live ids and their slots, in the order they were last stored (their records' order in the journal). */
  entries(): IterableIterator<[string, number]> {
    return this.#slots.entries();
  }

  /** The live set as it is now, for a snapshot or a read that outlives this instant. */
  freeze(): Frozen {
    const slots = new Int32Array(this.#slots.size);
    let i = 0;
    for (const slot of this.#slots.values()) slots[i++] = slot;
    const n = this.#next;
    return { slots, offset: this.#offset.slice(0, n), length: this.#length.slice(0, n), hits: this.#hits.slice(0, n), used: this.#used.slice(0, n) };
  }

  /**
   * After a compacted file replaced the journal: records written before `mark` are now where the
   * snapshot `placed` them, with the counters of `frozen` folded in; later ones moved by `shift`.
   */
  rebase(frozen: Frozen, placed: Placed, mark: number, shift: number): void {
    for (const slot of this.#slots.values()) {
      if (this.#offset[slot]! >= mark) {
        this.#offset[slot]! += shift;
        continue;
      }
      // Live at the mark and not stored again since: the snapshot wrote this very record.
      this.#offset[slot] = placed.offset[slot]!;
      this.#length[slot] = placed.length[slot]!;
      this.#hits[slot]! -= frozen.hits[slot]!;
      this.#used[slot]! -= frozen.used[slot]!;
    }
  }

  #grow(): number {
    const slot = this.#next++;
    if (slot === this.#offset.length) {
      const grow = <T extends Float64Array | Uint32Array>(array: T, make: (n: number) => T): T => {
        const bigger = make(array.length * 2);
        bigger.set(array);
        return bigger;
      };
      this.#offset = grow(this.#offset, (n) => new Float64Array(n));
      this.#length = grow(this.#length, (n) => new Uint32Array(n));
      this.#times = grow(this.#times, (n) => new Float64Array(n));
      this.#hits = grow(this.#hits, (n) => new Float64Array(n));
      this.#used = grow(this.#used, (n) => new Float64Array(n));
    }
    return slot;
  }
}

/** A record's rule with the counters saved since it was written (the line is a `put` record). */
export function countedRule(line: string, frozen: Frozen, slot: number): RuleJSON {
  const rule = (JSON.parse(line) as { put: RuleJSON }).put;
  const hits = frozen.hits[slot]!, used = frozen.used[slot]!;
  if (hits === 0 && used === 0) return rule;
  // Live, so not used up: withCounters gives a rule.
  return withCounters(rule, { id: rule.id, revision: rule.revision ?? '', hits, used })!;
}
