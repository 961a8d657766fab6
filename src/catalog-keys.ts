/**
 * The listing index's order as numbers. Each list of the catalog is ordered by (value, id): what a
 * listing needs is every value's rules together and, within a value, id order (the order of pages).
 * Which value comes before which does not matter, so a value is represented by a 31-bit hash and an id
 * by its first 22 bits, packed into one double: comparing two rules is then one comparison of numbers
 * read from a contiguous array, and the strings are read only when two keys are equal.
 *
 * A list's order is (value hash, id): two values with the same hash share one range, in which their
 * rules interleave by id; a listing of either skips the other's rules (rare: about one pair of values in
 * two billion).
 */

/** Bits of an id's prefix in a key: 31 bits of value hash above them make 53, exact in a double. */
const ID_BITS = 22;
/** The distance between the first keys of consecutive value hashes: a value's range is [start, start + VALUE_SPAN). */
export const VALUE_SPAN = 2 ** ID_BITS;

/**
 * The first 8 hex digits of an id as an unsigned 32-bit number. Ids are lowercase hex of fixed width, so
 * numeric order of prefixes is the string order of ids.
 * @throws RangeError when `id` does not start with 8 lowercase hex digits (a cursor is validated before).
 */
export function idPrefix(id: string): number {
  let n = 0;
  for (let i = 0; i < 8; i++) {
    const c = id.charCodeAt(i);
    const digit = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1;
    if (digit < 0) throw new RangeError(`not a rule id: ${JSON.stringify(id)}`);
    n = n * 16 + digit;
  }
  return n;
}

/** A value's 31-bit hash: `false` 0, `true` 1, a string its FNV-1a hash halved (equal values, equal hashes). */
export function valueHash(value: string | boolean): number {
  if (typeof value === 'boolean') return value ? 1 : 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < value.length; i++) h = Math.imul(h ^ value.charCodeAt(i), 0x01000193);
  return h >>> 1;
}

/** The key of a rule from its value's hash and its id's prefix. */
export const packKey = (hash: number, prefix: number): number => hash * VALUE_SPAN + (prefix >>> (32 - ID_BITS));

/** The key of the rule with `id` in the list of a field where it has `value`. */
export const listKey = (value: string | boolean, id: string): number => packKey(valueHash(value), idPrefix(id));

/** The first key of `value`'s range from the id `after` on (`after` itself may lie at that key). */
export const rangeStart = (value: string | boolean, after: string | undefined): number =>
  packKey(valueHash(value), after === undefined ? 0 : idPrefix(after));

const RADIX = 1 << 16;
const counts = new Uint32Array(RADIX);

/** One stable counting pass on 16 bits of `keys` (from bit `shift`), from `items`/`keys` into `toItems`/`toKeys`. */
function radixPass(items: Uint32Array, keys: Uint32Array, toItems: Uint32Array, toKeys: Uint32Array, shift: number): void {
  counts.fill(0);
  for (let i = 0; i < keys.length; i++) counts[(keys[i]! >>> shift) & 0xffff]!++;
  let sum = 0;
  for (let b = 0; b < RADIX; b++) {
    const n = counts[b]!;
    counts[b] = sum;
    sum += n;
  }
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const at = counts[(key >>> shift) & 0xffff]!++;
    toItems[at] = items[i]!;
    toKeys[at] = key;
  }
}

/**
 * @internal `items` stably sorted by `keys` (unsigned 32-bit, one per item): a least-significant-digit
 * radix sort, two passes of 16 bits, the upper one skipped when every key fits in 16 bits. Linear, and
 * without a comparator call per comparison: a million keys in a few tens of milliseconds, where a
 * comparator sort of the same took seconds. Both arrays are reordered in place.
 */
export function sortByKeys(items: Uint32Array, keys: Uint32Array): void {
  let max = 0;
  for (let i = 0; i < keys.length; i++) if (keys[i]! > max) max = keys[i]!;
  const spareItems = new Uint32Array(items.length);
  const spareKeys = new Uint32Array(keys.length);
  radixPass(items, keys, spareItems, spareKeys, 0);
  if (max < RADIX) {
    items.set(spareItems);
    keys.set(spareKeys);
  } else radixPass(spareItems, spareKeys, items, keys, 16);
}

/**
 * @internal The indices of `rules` in id order, each id once (of equal ids, the first is kept), and each
 * id's 32-bit prefix (by index). Sorted by prefix, then runs of equal prefixes (a few hundred pairs in
 * a million random ids) by the whole id.
 */
export function idOrder(rules: readonly { readonly id: string }[]): { order: Uint32Array; prefixes: Uint32Array } {
  const ids = rules.map((rule) => rule.id);
  const prefixes = new Uint32Array(ids.length);
  const order = new Uint32Array(ids.length);
  for (let i = 0; i < ids.length; i++) {
    prefixes[i] = idPrefix(ids[i]!);
    order[i] = i;
  }
  const sorted = prefixes.slice();
  sortByKeys(order, sorted);
  let kept = 0;
  for (let start = 0; start < order.length;) {
    let end = start + 1;
    while (end < order.length && sorted[end] === sorted[start]) end++;
    if (end - start === 1) order[kept++] = order[start]!;
    else {
      // A stable sort by the whole id: equal ids keep their batch order, and only the first is kept.
      const run = Array.from(order.subarray(start, end)).sort((a, b) => (ids[a]! < ids[b]! ? -1 : ids[a]! > ids[b]! ? 1 : 0));
      for (let k = 0; k < run.length; k++) if (k === 0 || ids[run[k]!] !== ids[run[k - 1]!]) order[kept++] = run[k]!;
    }
    start = end;
  }
  return { order: order.subarray(0, kept), prefixes };
}
