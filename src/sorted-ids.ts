/**
 * A sorted set of strings as a list of sorted chunks (the layout of Python's sortedcontainers): a change
 * moves at most one chunk's worth of references, and a seek is two binary searches, so both stay cheap
 * at a million ids where one sorted array would move half a million references per insert.
 */

/** Chunks split at twice this length and merge with a neighbour below half of it. */
export const CHUNK = 1000;

/** First index in the sorted `items` whose value is greater than (`strict`) or at least `value`. */
export function seek(items: readonly string[], value: string, strict: boolean): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const item = items[mid]!;
    if (item < value || (strict && item === value)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * @internal A sorted set of strings: an insert or delete moves one chunk's references (≤ 2 × CHUNK), plus
 * the chunk list on a split or merge; a seek is O(log n). It stores the strings it is given (references,
 * never copies).
 */
export class SortedIds {
  /** Non-empty sorted chunks, each ≤ 2 × CHUNK long; all of chunk i sorts before chunk i + 1. */
  #chunks: string[][] = [];
  /** The last id of each chunk: the binary search that picks a chunk reads only this. */
  #maxes: string[] = [];
  #size = 0;

  /** A set holding `ids`, which must be sorted and distinct (a promoted small bucket). */
  static from(ids: readonly string[]): SortedIds {
    const set = new SortedIds();
    for (let i = 0; i < ids.length; i += CHUNK) {
      const chunk = ids.slice(i, i + CHUNK);
      set.#chunks.push(chunk);
      set.#maxes.push(chunk[chunk.length - 1]!);
    }
    set.#size = ids.length;
    return set;
  }

  get size(): number {
    return this.#size;
  }

  /** Adds `id`; false when it was there already. */
  add(id: string): boolean {
    const maxes = this.#maxes;
    if (maxes.length === 0) {
      this.#chunks.push([id]);
      maxes.push(id);
      this.#size = 1;
      return true;
    }
    // The chunk whose max is the first ≥ id, or the last chunk when id sorts after everything.
    let c = seek(maxes, id, false);
    if (c === maxes.length) c--;
    const chunk = this.#chunks[c]!;
    const at = seek(chunk, id, false);
    if (chunk[at] === id) return false;
    chunk.splice(at, 0, id);
    if (at === chunk.length - 1) maxes[c] = id;
    this.#size++;
    if (chunk.length > 2 * CHUNK) {
      const upper = chunk.splice(CHUNK);
      this.#chunks.splice(c + 1, 0, upper);
      maxes.splice(c, 1, chunk[chunk.length - 1]!, upper[upper.length - 1]!);
    }
    return true;
  }

  /** Removes `id`; false when it was not there. */
  delete(id: string): boolean {
    const maxes = this.#maxes;
    const c = seek(maxes, id, false);
    if (c === maxes.length) return false;
    const chunk = this.#chunks[c]!;
    const at = seek(chunk, id, false);
    if (chunk[at] !== id) return false;
    chunk.splice(at, 1);
    this.#size--;
    if (chunk.length === 0) {
      this.#chunks.splice(c, 1);
      maxes.splice(c, 1);
      return true;
    }
    if (at === chunk.length) maxes[c] = chunk[chunk.length - 1]!;
    // Small chunks merge into a neighbour, so many deletes never leave a long list of tiny chunks.
    if (chunk.length < CHUNK / 2 && this.#chunks.length > 1) this.#merge(c === 0 ? 0 : c - 1);
    return true;
  }

  /** Whether `id` is in the set. */
  has(id: string): boolean {
    const c = seek(this.#maxes, id, false);
    const chunk = this.#chunks[c];
    return chunk !== undefined && chunk[seek(chunk, id, false)] === id;
  }

  /**
   * The ids after `cursor` (all when undefined) in order. The cursor need not be in the set. Iterate it
   * without changing the set in between (a listing is one synchronous call).
   */
  *after(cursor?: string): Generator<string, void, undefined> {
    const chunks = this.#chunks;
    let c = cursor === undefined ? 0 : seek(this.#maxes, cursor, true);
    let i = cursor === undefined || c === chunks.length ? 0 : seek(chunks[c]!, cursor, true);
    for (; c < chunks.length; c++, i = 0) {
      const chunk = chunks[c]!;
      for (; i < chunk.length; i++) yield chunk[i]!;
    }
  }

  /** Chunk lengths, for tests of the layout invariants. */
  chunkSizes(): number[] {
    return this.#chunks.map((chunk) => chunk.length);
  }

  /** Merges chunk `c` and `c + 1`, splitting the result again when it is too long. */
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
