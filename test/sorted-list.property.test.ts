// Differential test: the chunked sorted list against a plain sorted array, over batches of adds,
// replacements and deletes large enough to split and merge chunks (fixed seed, so failures reproduce).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CHUNK, SortedList } from '../src/sorted-list.js';

const SPACE = 6 * CHUNK;
// Fixed-width hex, as rule ids are: string order is numeric order.
const idOf = (n: number) => n.toString(16).padStart(20, '0');
/** Items are objects, as rules are: `replace` must swap the object and keep its place. */
interface Item { id: string; version: number }
const byId = (a: Item, b: Item) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

const opArb = fc.record({
  kind: fc.constantFrom('add', 'add', 'delete', 'replace'),
  from: fc.nat(SPACE - 1),
  count: fc.integer({ min: 1, max: 3 * CHUNK }),
  stride: fc.integer({ min: 1, max: 7 }),
  cursor: fc.option(fc.nat(SPACE), { nil: undefined }),
});

function check(list: SortedList<Item>, model: Map<string, Item>, cursor: string | undefined): void {
  const sorted = [...model.values()].sort(byId);
  assert.equal(list.size, sorted.length);
  assert.deepEqual([...list.from(() => false)], sorted);
  const after = cursor === undefined ? sorted : sorted.filter((x) => x.id > cursor);
  assert.deepEqual([...list.from((x) => cursor !== undefined && x.id <= cursor)], after);
  if (cursor !== undefined) {
    // The range [cursor, cursor + "8") counted against the model, with and without a cap.
    const inRange = sorted.filter((x) => x.id >= cursor && x.id < `${cursor}8`).length;
    assert.equal(list.count((x) => x.id < cursor, (x) => x.id >= `${cursor}8`, Infinity), inRange);
    // A capped count is at least the cap (or everything there is), never more than what there is.
    const capped = list.count((x) => x.id <= cursor, () => false, 5);
    assert.ok(capped >= Math.min(5, after.length) && capped <= after.length, `capped count ${capped}`);
  }
  const sizes = list.chunkSizes();
  assert.equal(sizes.reduce((a, b) => a + b, 0), sorted.length);
  for (const size of sizes) assert.ok(size >= 1 && size <= 2 * CHUNK, `chunk of ${size}`);
}

describe('SortedList', () => {
  it('agrees with a sorted array over random batches of adds, replacements and deletes', () => {
    fc.assert(fc.property(fc.array(opArb, { minLength: 1, maxLength: 12 }), (ops) => {
      const list = new SortedList<Item>(byId);
      const model = new Map<string, Item>();
      for (const [n, op] of ops.entries()) {
        for (let k = 0; k < op.count; k++) {
          const item = { id: idOf((op.from + k * op.stride) % SPACE), version: n };
          const present = model.has(item.id);
          if (op.kind === 'add') {
            assert.equal(list.add(item), !present);
            if (!present) model.set(item.id, item);
          } else if (op.kind === 'replace') {
            assert.equal(list.replace(item), present);
            if (present) model.set(item.id, item);
          } else {
            assert.equal(list.delete(item), present);
            model.delete(item.id);
          }
        }
        // A cursor that is rarely in the list: odd numbers past the id space included.
        check(list, model, op.cursor === undefined ? undefined : idOf(op.cursor) + (op.cursor % 2 === 0 ? '' : '0'));
      }
    }), { seed: 14, numRuns: 60 });
  });

  it('keeps chunks from fragmenting when most items are deleted', () => {
    const list = new SortedList<Item>(byId);
    for (let n = 0; n < 20 * CHUNK; n++) list.add({ id: idOf(n), version: 0 });
    for (let n = 0; n < 20 * CHUNK; n++) if (n % 50 !== 0) list.delete({ id: idOf(n), version: 0 });
    // 400 items left: merging keeps them in a chunk or two, not one chunk per former chunk.
    assert.equal(list.size, 400);
    assert.ok(list.chunkSizes().length <= 2, `chunks: ${list.chunkSizes().join(',')}`);
    const last = idOf(20 * CHUNK - 51);
    assert.deepEqual([...list.from((x) => x.id <= last)].map((x) => x.id), [idOf(20 * CHUNK - 50)]);
  });

  it('counts whole chunks only up to the cap', () => {
    const list = new SortedList<Item>(byId);
    for (let n = 0; n < 10 * CHUNK; n++) list.add({ id: idOf(n), version: 0 });
    assert.equal(list.count(() => false, () => false, Infinity), 10 * CHUNK);
    // A cap stops the count at the chunk that reaches it: never more than one chunk past the cap.
    assert.ok(list.count(() => false, () => false, 10) <= 2 * CHUNK);
    assert.equal(list.count((x) => x.id < idOf(10), (x) => x.id >= idOf(20), Infinity), 10);
    assert.equal(list.count((x) => x.id < idOf(10), (x) => x.id >= idOf(10), Infinity), 0);
  });
});
