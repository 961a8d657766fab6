/**
 * A sorted list as a list of sorted chunks (the layout of Python's sortedcontainers): a change moves at
 * most one chunk's worth of references, and a seek is two binary searches, so both stay cheap at a
 * million items where one sorted array would move half a million references per insert.
 */

/** Chunks split at twice this length and merge with a neighbour below half of it. */
export const CHUNK = 1000;

/** First index of `items` for which `past` is false; `past` must be true for a prefix only. */
function search<T>(items: readonly T[], past: (item: T) => boolean): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (past(items[mid]!)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index of `items` not before `item` by `compare` (a closure-free `search`, for changes). */
function lowerBound<T>(items: readonly T[], item: T, compare: (a: T, b: T) => number): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compare(items[mid]!, item) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * @internal A sorted list of distinct items (by `compare`). An insert or delete moves one chunk's
 * references (≤ 2 × CHUNK) plus, on a split or merge, the chunk list; a seek is O(log n). It stores the
 * items it is given: references, never copies.
 */
export class SortedList<T> {
  /** Non-empty sorted chunks, each ≤ 2 × CHUNK long; all of chunk i sorts before chunk i + 1. */
  #chunks: T[][] = [];
  /** The last item of each chunk: the binary search that picks a chunk reads only this. */
  #maxes: T[] = [];
  #size = 0;
  readonly #compare: (a: T, b: T) => number;

  constructor(compare: (a: T, b: T) => number) {
    this.#compare = compare;
  }

  get size(): number {
    return this.#size;
  }

  /** Inserts `item`; false (and no change) when an equal item is there already. */
  add(item: T): boolean {
    const maxes = this.#maxes;
    if (maxes.length === 0) {
      this.#chunks.push([item]);
      maxes.push(item);
      this.#size = 1;
      return true;
    }
    // The chunk whose max is the first not before item, or the last chunk when item sorts after all.
    const c = Math.min(lowerBound(maxes, item, this.#compare), maxes.length - 1);
    const chunk = this.#chunks[c]!;
    const at = lowerBound(chunk, item, this.#compare);
    if (at < chunk.length && this.#compare(chunk[at]!, item) === 0) return false;
    chunk.splice(at, 0, item);
    if (at === chunk.length - 1) maxes[c] = item;
    this.#size++;
    if (chunk.length > 2 * CHUNK) {
      const upper = chunk.splice(CHUNK);
      this.#chunks.splice(c + 1, 0, upper);
      maxes.splice(c, 1, chunk[chunk.length - 1]!, upper[upper.length - 1]!);
    }
    return true;
  }

  /**
   * Inserts many items at once (a store's snapshot at start-up), given **sorted** by the list's order:
   * one linear merge and one chunking instead of an insert each, when the batch is not small next to the
   * list. Items equal to one already there, or to an earlier one of the batch, are skipped (as `add`
   * skips them).
   */
  addSorted(items: readonly T[]): void {
    // Into a list much larger than the batch, inserts move less than a rebuild.
    if (this.#size > 0 && (items.length < 64 || items.length < this.#size / 4)) {
      for (const item of items) this.add(item);
      return;
    }
    const compare = this.#compare;
    const old = this.#chunks.flat();
    const all: T[] = [];
    let i = 0;
    let j = 0;
    // On a tie the item already in the list comes first and is the one kept.
    while (i < old.length || j < items.length) {
      const next = j === items.length || (i < old.length && compare(old[i]!, items[j]!) <= 0) ? old[i++]! : items[j++]!;
      if (all.length === 0 || compare(all[all.length - 1]!, next) !== 0) all.push(next);
    }
    this.#chunks = [];
    this.#maxes = [];
    for (let start = 0; start < all.length; start += CHUNK) {
      const chunk = all.slice(start, start + CHUNK);
      this.#chunks.push(chunk);
      this.#maxes.push(chunk[chunk.length - 1]!);
    }
    this.#size = all.length;
  }

  /** Replaces the item equal to `item` with it (an updated object in the same place); false when absent. */
  replace(item: T): boolean {
    const found = this.#find(item);
    if (found === undefined) return false;
    const [c, at] = found;
    this.#chunks[c]![at] = item;
    if (at === this.#chunks[c]!.length - 1) this.#maxes[c] = item;
    return true;
  }

  /** Removes the item equal to `item`; false when absent. */
  delete(item: T): boolean {
    const found = this.#find(item);
    if (found === undefined) return false;
    const [c, at] = found;
    const chunk = this.#chunks[c]!;
    chunk.splice(at, 1);
    this.#size--;
    if (chunk.length === 0) {
      this.#chunks.splice(c, 1);
      this.#maxes.splice(c, 1);
      return true;
    }
    if (at === chunk.length) this.#maxes[c] = chunk[chunk.length - 1]!;
    // Small chunks merge into a neighbour, so many deletes never leave a long list of tiny chunks.
    if (chunk.length < CHUNK / 2 && this.#chunks.length > 1) this.#merge(c === 0 ? 0 : c - 1);
    return true;
  }

  /**
   * The items from the first for which `past` is false, in order; `past` must hold for a prefix of the
   * list only. Iterate it without changing the list in between (a listing is one synchronous call).
   */
  *from(past: (item: T) => boolean): Generator<T, void, undefined> {
    const chunks = this.#chunks;
    let c = search(this.#maxes, past);
    for (let i = c === chunks.length ? 0 : search(chunks[c]!, past); c < chunks.length; c++, i = 0) {
      const chunk = chunks[c]!;
      for (; i < chunk.length; i++) yield chunk[i]!;
    }
  }

  /**
   * How many items lie from the first not `past` to the first `beyond` (both prefix predicates), counting
   * whole chunks at a time and stopping once `cap` is reached: choosing the smallest of several ranges
   * never counts more than the smallest.
   */
  count(past: (item: T) => boolean, beyond: (item: T) => boolean, cap: number): number {
    const chunks = this.#chunks;
    let c = search(this.#maxes, past);
    let n = 0;
    for (let i = c === chunks.length ? 0 : search(chunks[c]!, past); c < chunks.length && n < cap; c++, i = 0) {
      const chunk = chunks[c]!;
      if (!beyond(chunk[chunk.length - 1]!)) {
        n += chunk.length - i;
        continue;
      }
      return n + search(chunk, (x) => !beyond(x)) - i;
    }
    return n;
  }

  /** Chunk lengths, for tests of the layout invariants. */
  chunkSizes(): number[] {
    return this.#chunks.map((chunk) => chunk.length);
  }

  #find(item: T): [number, number] | undefined {
    const c = lowerBound(this.#maxes, item, this.#compare);
    const chunk = this.#chunks[c];
    if (chunk === undefined) return undefined;
    const at = lowerBound(chunk, item, this.#compare);
    return at < chunk.length && this.#compare(chunk[at]!, item) === 0 ? [c, at] : undefined;
  }

  /** Merges chunks `c` and `c + 1`, splitting the result again when it is too long. */
  #merge(c: number): void {
    const chunks = this.#chunks;
    const merged = chunks[c]!.concat(chunks[c + 1]!);
    if (merged.length > 2 * CHUNK) {
      const upper = merged.splice(merged.length >>> 1);
      chunks.splice(c, 2, merged, upper);
      this.#maxes.splice(c, 2, merged[merged.length - 1]!, upper[upper.length - 1]!);
    } else {
      chunks.splice(c, 2, merged);
      this.#maxes.splice(c, 2, merged[merged.length - 1]!);
    }
  }
}
