/**
 * The chunks of a `SortedList`: sorted keys in a `Float64Array`, each key's item found through a
 * slot number (a `Uint16Array` beside the keys) in an array of references that never moves, and the
 * cursor that walks them.
 */
/** @internal One chunk: `size` entries in order; entry p is `items[slots[p]]`, its key `keys[p]`. */
export interface Chunk<T> {
  size: number;
  /** Sorted keys; may be longer than `size` (spare capacity), as may `slots`. */
  keys: Float64Array;
  slots: Uint16Array;
  /** By slot; `undefined` in a free slot. A reference stays in its slot from its insert to its delete. */
  items: (T | undefined)[];
  /** Free slots of `items`, reused before it grows. */
  free: number[];
}

/** Keys and slots for `capacity` entries in one buffer: one allocation and one buffer object per chunk. */
function storage(capacity: number): { keys: Float64Array; slots: Uint16Array } {
  const buffer = new ArrayBuffer(capacity * 10);
  return { keys: new Float64Array(buffer, 0, capacity), slots: new Uint16Array(buffer, capacity * 8, capacity) };
}

/** @internal A chunk of `items` and `keys` in order, with room for `capacity` entries. */
export function chunkOf<T>(items: T[], keys: Float64Array, capacity = items.length): Chunk<T> {
  const chunk = { size: items.length, ...storage(capacity), items, free: [] };
  chunk.keys.set(keys.subarray(0, items.length));
  for (let p = 0; p < items.length; p++) chunk.slots[p] = p;
  return chunk;
}

/** @internal Moves `chunk`'s keys and slots to storage for `capacity` entries. */
export function resize<T>(chunk: Chunk<T>, capacity: number): void {
  const { keys, slots } = storage(capacity);
  keys.set(chunk.keys.subarray(0, chunk.size));
  slots.set(chunk.slots.subarray(0, chunk.size));
  chunk.keys = keys;
  chunk.slots = slots;
}

/** @internal The items of `chunk`, in order. */
export function ordered<T>(chunk: Chunk<T>): T[] {
  const out: T[] = [];
  for (let p = 0; p < chunk.size; p++) out.push(chunk.items[chunk.slots[p]!]!);
  return out;
}

/** @internal First position below `size` whose key is not below `key`. */
export function seekKey(keys: Float64Array | readonly number[], size: number, key: number): number {
  let lo = 0;
  let hi = size;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** @internal A position in a `SortedList`, walking the items below a key bound. */
export class Cursor<T> {
  readonly #chunks: readonly Chunk<T>[];
  #c: number;
  #p: number;
  readonly #hi: number;

  constructor(chunks: readonly Chunk<T>[], c: number, p: number, hi: number) {
    this.#chunks = chunks;
    this.#c = c;
    this.#p = p;
    this.#hi = hi;
  }

  /** The next item, or undefined past the range's end. */
  next(): T | undefined {
    let chunk = this.#chunks[this.#c];
    while (chunk !== undefined && this.#p === chunk.size) {
      chunk = this.#chunks[++this.#c];
      this.#p = 0;
    }
    if (chunk === undefined || chunk.keys[this.#p]! >= this.#hi) return undefined;
    return chunk.items[chunk.slots[this.#p++]!];
  }
}
