// Start-up at scale: a store's snapshot restored in one pass answers exactly like the same rules added one
// by one, an invalid stored rule is still refused (and installs nothing), and the stored-rule fast paths
// (timestamps, id digests) agree with the general ones.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Interceptor, MemoryStore, restoreRule, type RuleJSON, type RuleStore } from '../src/index.js';
import { isoTime } from '../src/stored-rule.js';
import { hitAt, indices, missAt, startupInputAt, storedAt } from '../bench/workload.js';

const SIZE = 200_000;

/** A store whose snapshot is `rules` as given (no copy, no validation of its own). */
const snapshotStore = (rules: RuleJSON[]): RuleStore => ({
  load: async () => rules, put: async () => undefined, delete: async () => undefined, clear: async () => undefined, close: async () => undefined,
});

describe('ready() of a large stored set', () => {
  it(`answers explain exactly like the same ${SIZE.toLocaleString('en-US')} rules added one by one`, async () => {
    const store = new MemoryStore();
    for (let i = 0; i < SIZE; i++) await store.put(storedAt(i, false));
    const loaded = new Interceptor({ store });
    let added = 0;
    loaded.on('rule:added', () => added++);
    await loaded.ready();
    const reference = new Interceptor();
    for (let i = 0; i < SIZE; i++) await reference.add(startupInputAt(i, false));

    assert.equal(added, SIZE, 'one rule:added event per loaded rule, as before');
    assert.equal(loaded.size, reference.size);
    assert.deepEqual(loaded.list().map((r) => r.id), reference.list().map((r) => r.id));
    const sample = indices(SIZE, 2_000, 7);
    for (const [n, i] of sample.entries()) {
      const attempt = n % 2 === 0 ? hitAt(i) : missAt(i);
      const got = loaded.explain(attempt);
      const want = reference.explain(attempt);
      assert.deepEqual(got.candidates.map((r) => [r.id, r.code, r.times, r.expires, r.description]),
        want.candidates.map((r) => [r.id, r.code, r.times, r.expires, r.description]), JSON.stringify(attempt));
      assert.equal(got.winner?.id, want.winner?.id);
    }
    // The hot path too (its own cache), for the hits: the same forced reply.
    for (const i of sample.slice(0, 200)) assert.equal(loaded.check(hitAt(i))?.reply, reference.check(hitAt(i))?.reply);
    await Promise.all([loaded.close(), reference.close()]);
  });

  it('refuses a snapshot holding an invalid rule, naming it, and installs none of it', async () => {
    const rules = Array.from({ length: 1_000 }, (_, i) => storedAt(i, false));
    const bad = { ...rules[500]!, code: 354 };
    const tampered = { ...rules[700]!, id: '0123456789abcdef0123' };
    for (const [broken, pattern] of [[bad, /stored rule \w+: code must be/], [tampered, /stored rule 0123456789abcdef0123: id 0123456789abcdef0123 does not match its selector/]] as const) {
      const snapshot = rules.map((r) => (r.id === broken.id || r === rules[700] && broken === tampered ? broken : r));
      const ic = new Interceptor({ store: snapshotStore(snapshot) });
      let events = 0;
      ic.on('rule:added', () => events++);
      await assert.rejects(ic.ready(), pattern);
      assert.equal(ic.size, 0, 'nothing of the refused snapshot is installed');
      assert.equal(events, 0);
    }
  });

  it('drops expired stored rules and keeps the counters a rule was stored with', async () => {
    const now = Date.now();
    const live = { ...storedAt(3, false), hits: 7 };
    const gone = { ...storedAt(9, false), expires: new Date(now - 1).toISOString() };
    const ic = new Interceptor({ store: snapshotStore([live, gone]) });
    await ic.ready();
    assert.deepEqual(ic.list().map((r) => [r.id, r.hits, r.times]), [[live.id, 7, live.times]]);
  });
});

describe('stored-rule fast paths', () => {
  it('reads timestamps exactly as Date.parse does', () => {
    const two = (max: number) => fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, '0'));
    const iso = fc.tuple(fc.integer({ min: 0, max: 9999 }).map((n) => String(n).padStart(4, '0')), two(19), two(39), two(29), two(69), two(69), fc.integer({ min: 0, max: 999 }).map((n) => String(n).padStart(3, '0')))
      .map(([y, mo, d, h, mi, s, ms]) => `${y}-${mo}-${d}T${h}:${mi}:${s}.${ms}Z`);
    const anything = fc.oneof(iso, fc.string({ minLength: 24, maxLength: 24 }), iso.map((t) => t.replace('Z', '+')), iso.map((t) => t.replace('T', ' ')));
    fc.assert(fc.property(anything, (text) => Object.is(isoTime(text), Date.parse(text))), { seed: 20261202, numRuns: 20_000 });
    for (const text of ['2026-02-30T00:00:00.000Z', '2026-12-31T23:59:59.999Z', '0000-01-01T00:00:00.000Z', '2026-01-01T24:00:00.000Z', '1970-01-01T00:00:00.000Z']) {
      assert.ok(Object.is(isoTime(text), Date.parse(text)), text);
    }
  });

  it('restores a stored rule to what add made of its input, the id checked against the selector', () => {
    for (let i = 0; i < 240; i++) {
      const json = storedAt(i, i % 2 === 0);
      const rule = restoreRule(json, Date.now())!;
      assert.deepEqual({ ...rule.toJSON() }, (({ revision, ...rest }) => rest)(json));
      assert.throws(() => restoreRule({ ...json, id: json.id.toUpperCase() }, Date.now()), /does not match its selector/);
      assert.throws(() => restoreRule({ ...json, id: json.id.slice(0, 19) }, Date.now()), /does not match its selector/);
    }
  });
});
