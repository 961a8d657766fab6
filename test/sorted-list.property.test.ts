// Differential test: the chunked sorted list against a plain sorted array, over batches of adds,
// replacements, deletes, bulk loads and seeks large enough to split and merge chunks (fixed seed, so
// failures reproduce). Keys are coarse on purpose: many items share one, so the tie-break is exercised.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CHUNK, SortedList } from '../src/sorted-list.js';

const SPACE = 6 * CHUNK;
// Fixed-width hex, as rule ids are: string order is numeric order.
const idOf = (n: number) => n.toString(16).padStart(20, '0');
/** Items are objects, as rules are: `replace` must swap the object and keep its place. */
interface Item { id: string; n: number; version: number }
/** Four items per key in id order, except that every third key block is reversed against the ids. */
const keyOf = (item: Item) => (Math.floor(item.n / 4) % 3 === 0 ? SPACE - Math.floor(item.n / 4) : Math.floor(item.n / 4));
const byId = (a: Item, b: Item) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const order = (a: Item, b: Item) => keyOf(a) - keyOf(b) || byId(a, b);
const item = (n: number, version = 0): Item => ({ id: idOf(n), n, version });

const opArb = fc.record({
  kind: fc.constantFrom('add', 'add', 'delete', 'replace', 'bulk'),
  from: fc.nat(SPACE - 1),
  count: fc.integer({ min: 1, max: 3 * CHUNK }),
  stride: fc.integer({ min: 1, max: 7 }),
  seek: fc.tuple(fc.nat(SPACE + 1), fc.nat(SPACE + 1), fc.integer({ min: 1, max: 3 * CHUNK })),
});

/** A bulk batch: sorted by the list's order, with keys, as `RuleCatalog.setMany` hands it over. */
function addSorted(list: SortedList<Item>, batch: Item[], key = keyOf): void {
  batch.sort((a, b) => key(a) - key(b) || byId(a, b));
  list.addSorted(batch, Float64Array.from(batch, key));
}

function check(list: SortedList<Item>, model: Map<string, Item>, [a, b, cap]: [number, number, number]): void {
  const sorted = [...model.values()].sort(order);
  assert.equal(list.size, sorted.length);
  const walk = (lo: number, hi: number) => {
    const out: Item[] = [];
    const cursor = list.range(lo, hi);
    for (let x = cursor.next(); x !== undefined; x = cursor.next()) out.push(x);
    return out;
  };
  assert.deepEqual(walk(-Infinity, Infinity), sorted);
  const [lo, hi] = a <= b ? [a, b] : [b, a];
  const inRange = sorted.filter((x) => keyOf(x) >= lo && keyOf(x) < hi);
  assert.deepEqual(walk(lo, hi), inRange);
  assert.equal(list.count(lo, hi, Infinity), inRange.length);
  // A capped count is at least the cap (or everything there is), never more than what there is.
  const capped = list.count(lo, hi, cap);
  assert.ok(capped >= Math.min(cap, inRange.length) && capped <= inRange.length, `capped count ${capped}`);
  const sizes = list.chunkSizes();
  assert.equal(sizes.reduce((x, y) => x + y, 0), sorted.length);
  for (const size of sizes) assert.ok(size >= 1 && size <= 2 * CHUNK, `chunk of ${size}`);
}

describe('SortedList', () => {
  it('agrees with a sorted array over random adds, replacements, deletes, bulk loads and seeks', () => {
    fc.assert(fc.property(fc.array(opArb, { minLength: 1, maxLength: 12 }), (ops) => {
      const list = new SortedList<Item>(keyOf, byId);
      const model = new Map<string, Item>();
      for (const [v, op] of ops.entries()) {
        const batch: Item[] = [];
        for (let k = 0; k < op.count; k++) {
          const next = item((op.from + k * op.stride) % SPACE, v);
          const present = model.has(next.id);
          if (op.kind === 'add') {
            assert.equal(list.add(next), !present);
            if (!present) model.set(next.id, next);
          } else if (op.kind === 'replace') {
            assert.equal(list.replace(next), present);
            if (present) model.set(next.id, next);
          } else if (op.kind === 'delete') {
            assert.equal(list.delete(next), present);
            model.delete(next.id);
          } else {
            // Items already there, and repeats within the batch (a stride wrapping around), are skipped.
            batch.push(next);
            if (!present) model.set(next.id, next);
          }
        }
        if (op.kind === 'bulk') addSorted(list, batch);
        check(list, model, op.seek);
      }
    }), { seed: 14, numRuns: 60 });
  });

  it('keeps what was there on a bulk load of equal items, and the first of equal batch items', () => {
    const list = new SortedList<Item>(keyOf, byId);
    for (let n = 0; n < 100; n++) list.add(item(n, 1));
    addSorted(list, [...Array.from({ length: 400 }, (_, n) => item(n, 2)), item(300, 3)]);
    const versions = new Map<number, number>();
    const cursor = list.range(-Infinity, Infinity);
    for (let x = cursor.next(); x !== undefined; x = cursor.next()) versions.set(x.n, x.version);
    assert.equal(versions.size, 400);
    assert.equal(versions.get(99), 1);
    assert.equal(versions.get(300), 2);
  });

  it('keeps chunks from fragmenting when most items are deleted', () => {
    const list = new SortedList<Item>(keyOf, byId);
    for (let n = 0; n < 20 * CHUNK; n++) list.add(item(n));
    for (let n = 0; n < 20 * CHUNK; n++) if (n % 50 !== 0) list.delete(item(n));
    // One item in 50 left: merging keeps them in a chunk or two, not one chunk per former chunk.
    assert.equal(list.size, Math.ceil((20 * CHUNK) / 50));
    assert.ok(list.chunkSizes().length <= 2, `chunks: ${list.chunkSizes().join(',')}`);
  });

  it('counts whole chunks only up to the cap', () => {
    const list = new SortedList<Item>((x) => x.n, byId);
    addSorted(list, Array.from({ length: 10 * CHUNK }, (_, n) => item(n)), (x) => x.n);
    assert.deepEqual(list.chunkSizes(), Array<number>(10).fill(CHUNK), 'a bulk load fills whole chunks');
    assert.equal(list.count(-Infinity, Infinity, Infinity), 10 * CHUNK);
    // A cap stops the count at the chunk that reaches it: never more than one chunk past the cap.
    assert.ok(list.count(-Infinity, Infinity, 10) <= 2 * CHUNK);
    assert.equal(list.count(10, 20, Infinity), 10);
    assert.equal(list.count(10, 10, Infinity), 0);
  });

  it('refuses a bulk load whose keys do not match its items', () => {
    const list = new SortedList<Item>(keyOf, byId);
    assert.throws(() => list.addSorted([item(1)], new Float64Array(2)), RangeError);
  });
});
