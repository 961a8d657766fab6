import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AttemptCache } from '../src/attempt-cache.js';
import type { Rule } from '../src/index.js';

const rules = (n: number) => [{ id: `r${n}` } as unknown as Rule];

describe('AttemptCache', () => {
  it('is bounded: evicting from the LRU also empties the read mirror', () => {
    const cache = new AttemptCache(3);
    for (let i = 0; i < 100; i++) cache.set({ recipient: `u${i}@a.com` }, rules(i));
    assert.equal(cache.size, 3);
    assert.equal(cache.get({ recipient: 'u0@a.com' }), undefined);
    assert.equal(cache.get({ recipient: 'u99@a.com' })?.[0]?.id, 'r99');
  });

  it('keeps a key that is hit repeatedly while new keys stream through', () => {
    const cache = new AttemptCache(64);
    const hot = { recipient: 'hot@a.com' };
    cache.set(hot, rules(-1));
    for (let i = 0; i < 10_000; i++) {
      cache.set({ recipient: `cold${i}@a.com` }, rules(i));
      assert.equal(cache.get(hot)?.[0]?.id, 'r-1', `lost the hot key after ${i} inserts`);
    }
  });

  it('holds a few variants per key and compares every field', () => {
    const cache = new AttemptCache(10);
    cache.set({ recipient: 'a@a.com', pool: 'p1' }, rules(1));
    cache.set({ recipient: 'a@a.com', pool: 'p2' }, rules(2));
    cache.set({ recipient: 'a@a.com', tags: ['t'] }, rules(3));
    assert.equal(cache.get({ recipient: 'a@a.com', pool: 'p1' })?.[0]?.id, 'r1');
    assert.equal(cache.get({ recipient: 'a@a.com', pool: 'p2' })?.[0]?.id, 'r2');
    assert.equal(cache.get({ recipient: 'a@a.com', tags: ['t'] })?.[0]?.id, 'r3');
    assert.equal(cache.get({ recipient: 'a@a.com', tags: ['u'] }), undefined);
    assert.equal(cache.get({ recipient: 'a@a.com', pool: 'p1', phase: 'data' }), undefined);
    for (let i = 0; i < 20; i++) cache.set({ recipient: 'a@a.com', mta: `10.0.0.${i}` }, rules(100 + i));
    assert.equal(cache.get({ recipient: 'a@a.com', mta: '10.0.0.19' })?.[0]?.id, 'r119');
    assert.equal(cache.get({ recipient: 'a@a.com', pool: 'p1' }), undefined, 'oldest variants replaced');
    cache.clear();
    assert.equal(cache.size, 0);
    assert.equal(cache.get({ recipient: 'a@a.com', mta: '10.0.0.19' }), undefined);
  });
});
