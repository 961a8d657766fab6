/**
 * A sorted list as a list of sorted chunks (the layout of Python's sortedcontainers): a change moves at
 * most one chunk's worth of entries, and a seek is two binary searches, so both stay cheap at a million
 * items where one sorted array would move half a million references per insert.
 *
 * The order is a number per item (its key), ties broken by comparing the items. A chunk keeps its keys
 * sorted in a `Float64Array`, and beside them, in a `Uint16Array`, the slot of each item in an array of
 * references that never moves: an insert or delete shifts numbers only. Two costs of a chunk of
 * references that the measurements of a million rules showed (docs/performance.md, Listings): comparing
 * items read objects scattered over the heap at every step of a search, and shifting references in an
 * old array makes V8's write barrier look up the heap page of every reference moved (one cache miss each,
 * for references to rules spread over the heap). Searches read keys, and items only on equal keys.
 */
import { type Chunk, chunkOf, Cursor, ordered, resize, seekKey } from './sorted-chunk.js';

export { Cursor } from './sorted-chunk.js';

/** Chunks split above twice this length and merge with a neighbour below half of it. */
export const CHUNK = 256;

/**
 * @internal A sorted list of distinct items: ordered by `keyOf`, then by `tie` among items with equal
 * keys (`tie` must order those totally; 0 means the same item). An insert or delete shifts one chunk's
 * keys and slots (≤ 2 × CHUNK numbers) plus, on a split or merge, the chunk list; a seek is O(log n).
 * It stores the items it is given: references, never copies.
 */
export class SortedList<T> {
  /** Non-empty chunks, each ≤ 2 × CHUNK long; all of chunk i sorts before chunk i + 1. */
  #chunks: Chunk<T>[] = [];
  /** The last key of each chunk: the search that picks a chunk reads only this (and, on a tie, the item). */
  #maxes: number[] = [];
  #size = 0;
  readonly #keyOf: (item: T) => number;
  readonly #tie: (a: T, b: T) => number;

  constructor(keyOf: (item: T) => number, tie: (a: T, b: T) => number) {
    this.#keyOf = keyOf;
    this.#tie = tie;
  }

  get size(): number {
    return this.#size;
  }

  /** Inserts `item`; false (and no change) when an equal item is there already. */
  add(item: T): boolean {
    const key = this.#keyOf(item);
    if (this.#chunks.length === 0) {
      this.#chunks.push(chunkOf([item], Float64Array.of(key), CHUNK));
      this.#maxes.push(key);
      this.#size = 1;
      return true;
    }
    // The chunk whose last item is the first not before item, or the last chunk when item sorts after all.
    const c = Math.min(this.#chunkAt(key, item), this.#chunks.length - 1);
    const chunk = this.#chunks[c]!;
    const at = this.#lowerBound(chunk, key, item);
    if (at < chunk.size && chunk.keys[at] === key && this.#same(this.#at(chunk, at), item)) return false;
    if (chunk.size === chunk.keys.length) {
      resize(chunk, Math.min(2 * CHUNK + 1, chunk.size + (chunk.size >>> 1) + 16));
    }
    const slot = chunk.free.pop() ?? chunk.items.push(undefined) - 1;
    chunk.items[slot] = item;
    chunk.keys.copyWithin(at + 1, at, chunk.size);
    chunk.slots.copyWithin(at + 1, at, chunk.size);
    chunk.keys[at] = key;
    chunk.slots[at] = slot;
    if (at === chunk.size++) this.#maxes[c] = key;
    this.#size++;
    if (chunk.size > 2 * CHUNK) this.#rechunk(c, 1, [chunk]);
    return true;
  }

  /**
   * Inserts many items at once (a store's snapshot at start-up), given **sorted** by the list's order with
   * their keys (`keys[k]` is the key of the k-th item; the k-th item is `items[order[k]]` when `order` is
   * given, else `items[k]`): one linear merge and one chunking instead of an insert each, when the batch
   * is not small next to the list. Items equal to one already there, or to an earlier one of the batch,
   * are skipped (as `add` skips them).
   */
  addSorted(items: readonly T[], keys: Float64Array, order?: Uint32Array): void {
    const n = order === undefined ? items.length : order.length;
    if (keys.length !== n) throw new RangeError(`addSorted: ${n} items but ${keys.length} keys`);
    const itemAt = order === undefined ? (k: number) => items[k]! : (k: number) => items[order[k]!]!;
    // Into a list much larger than the batch, inserts move less than a rebuild.
    if (this.#size > 0 && (n < 64 || n < this.#size / 4)) {
      for (let k = 0; k < n; k++) this.add(itemAt(k));
      return;
    }
    if (this.#size > 0) {
      const [all, allKeys] = this.#merged(Array.from({ length: n }, (_, k) => itemAt(k)), keys);
      this.#build(allKeys, (k) => all[k]!);
    } else this.#build(keys, itemAt);
  }

  /**
   * Replaces the chunks with full chunks of the sorted items, built directly: references are stored
   * only into small new arrays (a store into a large old array pays V8's write barrier a lookup of the
   * referenced rule's heap page: at a million rules, most of a bulk load's time).
   */
  #build(keys: Float64Array, itemAt: (k: number) => T): void {
    this.#chunks = [];
    this.#maxes = [];
    this.#size = 0;
    let chunk: Chunk<T> | undefined;
    for (let k = 0; k < keys.length; k++) {
      const item = itemAt(k);
      const key = keys[k]!;
      // Duplicates are adjacent: keep the first.
      if (chunk !== undefined && chunk.keys[chunk.size - 1] === key && this.#same(this.#at(chunk, chunk.size - 1), item)) continue;
      if (chunk === undefined || chunk.size === CHUNK) {
        // Exact size for a full chunk: a loaded snapshot has no spare room (its first insert grows a chunk).
        chunk = chunkOf<T>([], keys, Math.min(CHUNK, keys.length - k));
        this.#chunks.push(chunk);
        this.#maxes.push(key);
      }
      chunk.keys[chunk.size] = key;
      chunk.slots[chunk.size] = chunk.size;
      chunk.items.push(item);
      chunk.size++;
      this.#maxes[this.#maxes.length - 1] = key;
      this.#size++;
    }
  }

  /** Replaces the item equal to `item` with it (an updated object in the same place); false when absent. */
  replace(item: T): boolean {
    const found = this.#find(item);
    if (found === undefined) return false;
    const chunk = this.#chunks[found[0]]!;
    chunk.items[chunk.slots[found[1]]!] = item;
    return true;
  }

  /** Removes the item equal to `item`; false when absent. */
  delete(item: T): boolean {
    const found = this.#find(item);
    if (found === undefined) return false;
    const [c, at] = found;
    const chunk = this.#chunks[c]!;
    const slot = chunk.slots[at]!;
    chunk.items[slot] = undefined;
    chunk.free.push(slot);
    chunk.keys.copyWithin(at, at + 1, chunk.size);
    chunk.slots.copyWithin(at, at + 1, chunk.size);
    chunk.size--;
    this.#size--;
    if (chunk.size === 0) {
      this.#chunks.splice(c, 1);
      this.#maxes.splice(c, 1);
      return true;
    }
    if (at === chunk.size) this.#maxes[c] = chunk.keys[at - 1]!;
    // Small chunks merge into a neighbour, so many deletes never leave a long list of tiny chunks.
    if (chunk.size < CHUNK / 2 && this.#chunks.length > 1) {
      const first = c === 0 ? 0 : c - 1;
      this.#rechunk(first, 2, [this.#chunks[first]!, this.#chunks[first + 1]!]);
    }
    return true;
  }

  /**
   * The items whose key is at least `lo` and below `hi`, in order, through a cursor. Read it without
   * changing the list in between (a listing is one synchronous call).
   */
  range(lo: number, hi: number): Cursor<T> {
    const c = seekKey(this.#maxes, this.#maxes.length, lo);
    const chunk = this.#chunks[c];
    return new Cursor(this.#chunks, c, chunk === undefined ? 0 : seekKey(chunk.keys, chunk.size, lo), hi);
  }

  /**
   * How many items have a key at least `lo` and below `hi`, counting whole chunks at a time and stopping
   * once `cap` is reached: choosing the smallest of several ranges never counts more than the smallest.
   */
  count(lo: number, hi: number, cap: number): number {
    const chunks = this.#chunks;
    let c = seekKey(this.#maxes, this.#maxes.length, lo);
    let n = 0;
    for (let p = c === chunks.length ? 0 : seekKey(chunks[c]!.keys, chunks[c]!.size, lo); c < chunks.length && n < cap; c++, p = 0) {
      const chunk = chunks[c]!;
      if (this.#maxes[c]! < hi) {
        n += chunk.size - p;
        continue;
      }
      return n + seekKey(chunk.keys, chunk.size, hi) - p;
    }
    return n;
  }

  /** Chunk lengths, for tests of the layout invariants. */
  chunkSizes(): number[] {
    return this.#chunks.map((chunk) => chunk.size);
  }

  /** The first chunk whose last item is not before (`key`, `item`); the chunk count when none is. */
  #chunkAt(key: number, item: T): number {
    const maxes = this.#maxes;
    let lo = 0;
    let hi = maxes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const max = maxes[mid]!;
      if (max < key || (max === key && this.#before(this.#at(this.#chunks[mid]!, this.#chunks[mid]!.size - 1), item))) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First position of `chunk` not before (`key`, `item`): items are read only where keys are equal. */
  #lowerBound(chunk: Chunk<T>, key: number, item: T): number {
    const { keys } = chunk;
    let lo = 0;
    let hi = chunk.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const k = keys[mid]!;
      // The item itself (a delete's search) is not before it: no need to read it.
      if (k < key || (k === key && this.#before(this.#at(chunk, mid), item))) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Whether `a` sorts before `b`, of two items with equal keys. */
  #before(a: T, b: T): boolean {
    return a !== b && this.#tie(a, b) < 0;
  }

  #same(a: T, b: T): boolean {
    return a === b || this.#tie(a, b) === 0;
  }

  #at(chunk: Chunk<T>, p: number): T {
    return chunk.items[chunk.slots[p]!]!;
  }

  #find(item: T): [number, number] | undefined {
    const key = this.#keyOf(item);
    const c = this.#chunkAt(key, item);
    const chunk = this.#chunks[c];
    if (chunk === undefined) return undefined;
    const at = this.#lowerBound(chunk, key, item);
    return at < chunk.size && chunk.keys[at] === key && this.#same(this.#at(chunk, at), item) ? [c, at] : undefined;
  }

  /** Replaces `count` chunks from `c` with `parts` re-cut into chunks of at most 2 × CHUNK, each half full or more. */
  #rechunk(c: number, count: number, parts: readonly Chunk<T>[]): void {
    const items = parts.flatMap((part) => ordered(part));
    const keys = new Float64Array(items.length);
    let at = 0;
    for (const part of parts) {
      keys.set(part.keys.subarray(0, part.size), at);
      at += part.size;
    }
    const pieces = items.length > 2 * CHUNK ? 2 : 1;
    const cut = Math.ceil(items.length / pieces);
    const chunks: Chunk<T>[] = [];
    for (let start = 0; start < items.length; start += cut) {
      const end = Math.min(start + cut, items.length);
      chunks.push(chunkOf(items.slice(start, end), keys.subarray(start, end), Math.min(2 * CHUNK + 1, end - start + (CHUNK >>> 1))));
    }
    this.#chunks.splice(c, count, ...chunks);
    this.#maxes.splice(c, count, ...chunks.map((chunk) => chunk.keys[chunk.size - 1]!));
  }

  /** The list's items and the batch merged in order (on a tie the list's item first, so it is kept). */
  #merged(items: readonly T[], keys: Float64Array): [T[], Float64Array] {
    const outItems: T[] = [];
    const outKeys = new Float64Array(this.#size + items.length);
    let j = 0;
    const take = (item: T, key: number) => {
      outKeys[outItems.length] = key;
      outItems.push(item);
    };
    for (const chunk of this.#chunks) {
      for (let p = 0; p < chunk.size; p++) {
        const key = chunk.keys[p]!;
        const item = this.#at(chunk, p);
        while (j < items.length && (keys[j]! < key || (keys[j] === key && this.#tie(items[j]!, item) < 0))) take(items[j]!, keys[j++]!);
        take(item, key);
      }
    }
    for (; j < items.length; j++) take(items[j]!, keys[j]!);
    return [outItems, outKeys];
  }
}
