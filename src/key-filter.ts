/**
 * A one-hash Bloom filter per index shape, in front of its hash map.
 *
 * Most probes of a check find nothing: an attempt is compared against every occupied shape, and usually
 * one shape or none holds a rule for it. With a million rules each probe of a large Map costs a couple
 * of cache misses, and each multi-part probe also builds a key string. The filter answers "certainly
 * absent" for ~88% of those probes (8 bits per key) from a bit array that is one byte per rule, using
 * hashes of the attempt's fields computed once per check and combined with integer arithmetic only.
 *
 * Bits are never cleared on removal; the filter is rebuilt when removals outnumber the live keys.
 */

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a over the UTF-16 code units, last to first, so that every domain suffix hash falls out of one pass. */
export function hashText(text: string): number {
  let h = FNV_OFFSET;
  for (let i = text.length - 1; i >= 0; i--) h = Math.imul(h ^ text.charCodeAt(i), FNV_PRIME);
  return h >>> 0;
}

/**
 * `out[n]` = {@link hashText} of the last `n` labels of `domain`, for every `n` below its label count;
 * `out[labels]` is the whole domain. Returns the label count.
 */
export function hashSuffixes(domain: string, out: number[]): number {
  let h = FNV_OFFSET;
  let labels = 0;
  for (let i = domain.length - 1; i >= 0; i--) {
    const c = domain.charCodeAt(i);
    if (c === 46) out[++labels] = h >>> 0;
    h = Math.imul(h ^ c, FNV_PRIME);
  }
  out[++labels] = h >>> 0;
  return labels;
}

/** Hash of a numeric key part (an IPv4 network). */
export function hashNumber(n: number): number {
  let h = Math.imul(n ^ (n >>> 16), 0x45d9f3b);
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Hash of a key part. */
export function hashPart(part: string | number): number {
  return typeof part === 'number' ? hashNumber(part) : hashText(part);
}

/** Order-dependent combination of a key's part hashes; start from {@link KEY_SEED}. */
export function combine(h: number, part: number): number {
  return (Math.imul(h ^ part, 0x9e3779b1) + (h >>> 15)) >>> 0;
}

export const KEY_SEED = 0x2545f491;

const BITS_PER_KEY = 8;
const MIN_BITS = 256;

export class KeyFilter {
  #bits = new Uint32Array(MIN_BITS / 32);
  #mask = MIN_BITS - 1;
  #keys = 0;
  #removed = 0;

  /** Might a key with hash `h` be present? False means certainly not. */
  has(h: number): boolean {
    const i = h & this.#mask;
    return (this.#bits[i >>> 5]! & (1 << (i & 31))) !== 0;
  }

  /** Records a key. Returns true when the filter is too small or too stale and should be rebuilt. */
  add(h: number): boolean {
    const i = h & this.#mask;
    this.#bits[i >>> 5]! |= 1 << (i & 31);
    return ++this.#keys * BITS_PER_KEY > this.#bits.length * 32;
  }

  /** Notes a removed key. Returns true when the filter should be rebuilt. */
  remove(): boolean {
    this.#keys--;
    return ++this.#removed > Math.max(64, this.#keys);
  }

  /** Starts over sized for `count` keys; the caller then adds every live key. */
  reset(count: number): void {
    let bits = MIN_BITS;
    while (bits < count * BITS_PER_KEY * 2) bits *= 2; // room to grow 2x before the next rebuild
    this.#bits = new Uint32Array(bits / 32);
    this.#mask = bits - 1;
    this.#keys = 0;
    this.#removed = 0;
  }
}
