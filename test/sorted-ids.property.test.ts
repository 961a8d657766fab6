// Differential test: the chunked sorted set against a plain sorted array, over batches of adds and
// deletes large enough to split and merge chunks (fixed seed, so failures reproduce).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CHUNK, SortedIds } from '../src/sorted-ids.js';

const SPACE = 6 * CHUNK;
// Fixed-width hex, as rule ids are: string order is numeric order.
const idOf = (n: number) => n.toString(16).padStart(20, '0');

const opArb = fc.record({
  add: fc.boolean(),
  from: fc.nat(SPACE - 1),
  count: fc.integer({ min: 1, max: 3 * CHUNK }),
  stride: fc.integer({ min: 1, max: 7 }),
  cursor: fc.option(fc.nat(SPACE), { nil: undefined }),
});

function check(set: SortedIds, model: Set<string>, cursor: string | undefined): void {
  const sorted = [...model].sort();
  assert.equal(set.size, sorted.length);
  assert.deepEqual([...set.after()], sorted);
  assert.deepEqual([...set.after(cursor)], cursor === undefined ? sorted : sorted.filter((id) => id > cursor));
  const sizes = set.chunkSizes();
  assert.equal(sizes.reduce((a, b) => a + b, 0), sorted.length);
  for (const size of sizes) assert.ok(size >= 1 && size <= 2 * CHUNK, `chunk of ${size}`);
}

describe('SortedIds', () => {
  it('agrees with a sorted array over random batches of adds and deletes', () => {
    fc.assert(fc.property(fc.array(opArb, { minLength: 1, maxLength: 12 }), (ops) => {
      const set = new SortedIds();
      const model = new Set<string>();
      for (const op of ops) {
        for (let k = 0; k < op.count; k++) {
          const id = idOf((op.from + k * op.stride) % SPACE);
          assert.equal(op.add ? set.add(id) : set.delete(id), op.add ? !model.has(id) : model.has(id));
          if (op.add) model.add(id); else model.delete(id);
        }
        // A cursor that is rarely in the set: odd numbers past the id space included.
        check(set, model, op.cursor === undefined ? undefined : idOf(op.cursor) + (op.cursor % 2 === 0 ? '' : '0'));
        const probe = idOf(op.from);
        assert.equal(set.has(probe), model.has(probe));
      }
    }), { seed: 14, numRuns: 60 });
  });

  it('keeps chunks from fragmenting when most ids are deleted', () => {
    const set = new SortedIds();
    for (let n = 0; n < 20 * CHUNK; n++) set.add(idOf(n));
    for (let n = 0; n < 20 * CHUNK; n++) if (n % 50 !== 0) set.delete(idOf(n));
    // 400 ids left: merging keeps them in a chunk or two, not one chunk per former chunk.
    assert.equal(set.size, 400);
    assert.ok(set.chunkSizes().length <= 2, `chunks: ${set.chunkSizes().join(',')}`);
    assert.deepEqual([...set.after(idOf(20 * CHUNK - 51))], [idOf(20 * CHUNK - 50)]);
  });

  it('builds from a sorted array and seeks past either end', () => {
    const ids = Array.from({ length: 2500 }, (_, n) => idOf(n * 2));
    const set = SortedIds.from(ids);
    assert.deepEqual(set.chunkSizes(), [1000, 1000, 500]);
    assert.deepEqual([...set.after('')], ids);
    assert.deepEqual([...set.after(idOf(5000))], []);
    assert.deepEqual([...set.after(idOf(1999))], ids.slice(1000));
  });
});
