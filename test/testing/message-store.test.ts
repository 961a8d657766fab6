import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValidationError } from '../../src/index.js';
import { MESSAGE_STORE_DEFAULTS, MessageStore } from '../../src/testing/index.js';

const msg = (name: string, bytes = 10) => ({ name, raw: Buffer.alloc(bytes, 'x') });
const names = (store: MessageStore<ReturnType<typeof msg>>) => store.values().map((m) => m.name);

describe('MessageStore', () => {
  it('keeps at most maxMessages, evicting the oldest first', () => {
    const store = new MessageStore<ReturnType<typeof msg>>({ maxMessages: 3 });
    for (const n of ['a', 'b', 'c', 'd', 'e']) store.add(msg(n));
    assert.deepEqual(names(store), ['c', 'd', 'e']);
    assert.equal(store.size, 3);
    assert.equal(store.bytes, 30);
    assert.equal(store.evicted, 2);
  });

  it('keeps at most maxBytes of raw messages, evicting as many old ones as a large one needs', () => {
    const store = new MessageStore<ReturnType<typeof msg>>({ maxBytes: 100 });
    for (const n of ['a', 'b', 'c', 'd']) store.add(msg(n, 30));
    assert.deepEqual(names(store), ['b', 'c', 'd']);
    store.add(msg('big', 80));
    assert.deepEqual(names(store), ['big']);
    assert.equal(store.bytes, 80);
    store.add(msg('exact', 20));
    assert.deepEqual(names(store), ['big', 'exact'], 'exactly maxBytes is within budget');
  });

  it('refuses a message larger than the whole byte budget, changing nothing', () => {
    const store = new MessageStore<ReturnType<typeof msg>>({ maxBytes: 100 });
    store.add(msg('a'));
    assert.throws(() => store.add(msg('huge', 101)), /101 bytes exceeds the store's maxBytes of 100/);
    assert.deepEqual(names(store), ['a']);
  });

  it('finds kept messages by id, never evicted, unknown or malformed ones', () => {
    const store = new MessageStore<ReturnType<typeof msg>>({ maxMessages: 2 });
    const ids = ['a', 'b', 'c'].map((n) => store.add(msg(n)));
    assert.deepEqual(ids, ['1', '2', '3']);
    assert.equal(store.get('1'), undefined, 'evicted');
    assert.equal(store.get('3')?.message.name, 'c');
    for (const bad of ['4', '0', '-1', '02', '2.0', '', 'abc', '__proto__', 'constructor', '99999999999999999999']) {
      assert.equal(store.get(bad), undefined, bad);
    }
  });

  it('pages oldest first with a cursor that survives eviction and new messages', () => {
    const store = new MessageStore<ReturnType<typeof msg>>({ maxMessages: 5 });
    for (const n of ['a', 'b', 'c', 'd', 'e']) store.add(msg(n));
    const first = store.page(undefined, 2);
    assert.deepEqual(first.items.map((s) => s.message.name), ['a', 'b']);
    assert.equal(first.next, '2');
    store.add(msg('f')); // evicts a
    const second = store.page(first.next!, 2);
    assert.deepEqual(second.items.map((s) => s.message.name), ['c', 'd']);
    const last = store.page(second.next!, 10);
    assert.deepEqual(last.items.map((s) => s.message.name), ['e', 'f']);
    assert.equal(last.next, null, 'the newest message ends the listing');
    store.add(msg('g'));
    assert.deepEqual(store.page(last.items.at(-1)!.id, 10).items.map((s) => s.message.name), ['g'], 'polling after the last id sees new mail');
    for (const n of ['h', 'i', 'j', 'k', 'l', 'm']) store.add(msg(n));
    assert.deepEqual(store.page('1', 2).items.map((s) => s.message.name), ['i', 'j'], 'an evicted cursor resumes at the oldest kept');
    assert.deepEqual(store.page('1000', 2), { items: [], next: null });
    assert.throws(() => store.page('x', 2), /"x" is not a message id/);
    assert.throws(() => store.page(undefined, 0), /count must be a positive integer/);
  });

  it('clears without reusing ids', () => {
    const store = new MessageStore<ReturnType<typeof msg>>();
    store.add(msg('a'));
    store.clear();
    assert.equal(store.size, 0);
    assert.equal(store.bytes, 0);
    assert.deepEqual(store.page(undefined, 10), { items: [], next: null });
    assert.equal(store.add(msg('b')), '2');
    assert.equal(store.get('1'), undefined);
  });

  it('stays bounded and consistent over many evictions (the compaction of evicted slots)', () => {
    const store = new MessageStore<ReturnType<typeof msg>>({ maxMessages: 100, maxBytes: 5000 });
    for (let i = 1; i <= 10_000; i++) {
      store.add(msg(String(i), 1 + (i % 97)));
      assert.ok(store.size <= 100 && store.bytes <= 5000);
    }
    const kept = store.values();
    assert.equal(kept.at(-1)!.name, '10000');
    const oldest = store.page(undefined, 1).items[0]!;
    assert.equal(oldest.message.name, oldest.id);
    assert.equal(store.get(oldest.id), oldest);
    assert.equal(store.size + store.evicted, 10_000);
  });

  it('documents its defaults and validates its options by name', () => {
    const store = new MessageStore();
    assert.equal(store.maxMessages, MESSAGE_STORE_DEFAULTS.maxMessages);
    assert.equal(store.maxBytes, 100 * 1024 * 1024);
    for (const [options, param] of [[{ maxMessages: 0 }, 'maxMessages'], [{ maxBytes: 1.5 }, 'maxBytes'], [{ maxBytes: Number.NaN }, 'maxBytes']] as const) {
      assert.throws(() => new MessageStore(options), (err: unknown) => err instanceof ValidationError && err.param === param);
    }
  });
});
