// FileStore's journal: torn tails, corruption, counters, 0.1.0 files.
import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { Interceptor, type RuleJSON, type SmtpInterceptError } from '../../src/index.js';
import { FileStore } from '../../src/stores/file.js';

const dir = mkdtempSync(join(tmpdir(), 'smtp-intercept-journal-'));
let n = 0;
const fresh = () => join(dir, `rules-${++n}.json`);
after(() => rmSync(dir, { recursive: true, force: true }));

const rule = (id: string, extra: Partial<RuleJSON> = {}): RuleJSON =>
  ({ id, domain: `${id}.example`, code: 421, cluster: false, created: '2026-01-01T00:00:00.000Z', updated: '2026-01-01T00:00:00.000Z', hits: 0, ...extra });
const ids = (rules: readonly RuleJSON[]) => rules.map((r) => r.id);
const lines = (path: string) => readFileSync(path, 'utf8').split('\n');

/** A store file holding rules a and b, written by a store that is closed again. */
async function journalWithTwoRules(): Promise<string> {
  const path = fresh();
  const store = new FileStore(path);
  await store.put(rule('a'));
  await store.put(rule('b'));
  await store.close();
  return path;
}

describe('FileStore torn last record', () => {
  for (const [what, tail] of [
    ['a record cut mid-line (no newline)', '{"put":{"id":"c","dom'],
    ['a whole record without its newline', JSON.stringify({ put: rule('c') })],
    ['an unparsable last line', '\u0000\u0000\u0000\n'],
  ] as const) {
    it(`drops ${what}, reports it once, and cuts it off on the next write`, async () => {
      const path = await journalWithTwoRules();
      appendFileSync(path, tail);
      const warnings: string[] = [];
      const store = new FileStore(path, { onWarning: (message) => warnings.push(message) });
      assert.deepEqual(ids(await store.load()), ['a', 'b']);
      assert.deepEqual(ids(await store.load()), ['a', 'b']);
      assert.equal(warnings.length, 1, 'reported once');
      assert.match(warnings[0]!, new RegExp(`rule file ${path}: dropped a torn last record at line 4`));
      await store.put(rule('d'));
      await store.close();
      assert.deepEqual(lines(path).slice(1, -1).map((line) => JSON.parse(line).put.id), ['a', 'b', 'd']);
      const again: string[] = [];
      assert.deepEqual(ids(await new FileStore(path, { onWarning: (message) => again.push(message) }).load()), ['a', 'b', 'd']);
      assert.deepEqual(again, []);
    });
  }

  it('an interceptor over a file with a torn tail becomes ready and forces its rules', async () => {
    const path = fresh();
    const first = new Interceptor({ store: new FileStore(path) });
    const kept = await first.add({ domain: 'gmail.com', code: 421 });
    appendFileSync(path, '{"put":');
    const warned: string[] = [];
    const second = new Interceptor({ store: new FileStore(path, { onWarning: (message) => warned.push(message) }) });
    await second.ready();
    assert.equal(second.get(kept.id)?.code, 421);
    assert.equal(warned.length, 1);
  });
});

describe('FileStore corrupt journal', () => {
  for (const [what, bad, line] of [
    ['an unparsable line in the middle', 'not json', /line 3 is not valid JSON/],
    ['an unknown record type', '{"rename":"a"}', /line 3 has an unknown record type "rename"/],
    ['a put without an id', '{"put":{"code":421}}', /line 3 has a put of a rule without an id/],
    ['a record with two keys', '{"put":{"id":"x"},"clear":true}', /line 3 has 2 keys/],
  ] as const) {
    it(`refuses ${what}, naming the file and the line, and never writes to it`, async () => {
      const path = await journalWithTwoRules();
      const [header, a, b] = lines(path);
      const content = `${header}\n${a}\n${bad}\n${b}\n`;
      writeFileSync(path, content);
      const store = new FileStore(path);
      const refused = (err: SmtpInterceptError) => err.code === 'store_invalid' && err.message.includes(path) && line.test(err.message);
      await assert.rejects(store.load(), refused);
      await assert.rejects(store.put(rule('c')), refused);
      await assert.rejects(store.clear(), refused);
      await store.close();
      assert.equal(readFileSync(path, 'utf8'), content);
    });
  }

  it('refuses a last line that parses but is no record (only an unparsable one is torn)', async () => {
    const path = await journalWithTwoRules();
    appendFileSync(path, '{"put":7}\n');
    await assert.rejects(new FileStore(path).load(), /line 4 has a put that is not a rule object/);
  });

  it('refuses a journal of a newer version', async () => {
    const path = fresh();
    writeFileSync(path, '{"format":"smtp-intercept-journal","version":3}\n');
    await assert.rejects(new FileStore(path).load(), /is a journal of version 3/);
  });

  it('refuses to append to a file another process truncated, naming it', async () => {
    const path = await journalWithTwoRules();
    const store = new FileStore(path);
    await store.load();
    truncateSync(path, lines(path)[0]!.length + 1);
    await assert.rejects(store.put(rule('c')), (err: Error) => err.message.includes(path) && /shorter than this store left it/.test(err.message));
    await store.close();
  });
});

describe('FileStore counters', () => {
  it('saves hits and uses per batch; a reopened store loads them; used up is gone; other revisions and absent ids are ignored', async () => {
    const path = fresh();
    const store = new FileStore(path);
    await store.put(rule('times', { times: 3, revision: 'o.1' }));
    await store.put(rule('plain', { revision: 'o.2' }));
    await store.put(rule('unrevised'));
    await store.saveCounters([
      { id: 'times', revision: 'o.1', hits: 2, used: 2 },
      { id: 'plain', revision: 'o.2', hits: 5, used: 0 },
      { id: 'plain', revision: 'o.0', hits: 100, used: 0 },
      { id: 'unrevised', revision: '', hits: 1, used: 0 },
      { id: 'absent', revision: '', hits: 9, used: 9 },
    ]);
    await store.close();
    const loaded = await new FileStore(path).load();
    assert.deepEqual(loaded.map((r) => [r.id, r.hits, r.times]), [['times', 2, 1], ['plain', 5, undefined], ['unrevised', 1, undefined]]);
    const again = new FileStore(path);
    await again.saveCounters([{ id: 'times', revision: 'o.1', hits: 1, used: 1 }]);
    await again.close();
    assert.deepEqual(ids(await new FileStore(path).load()), ['plain', 'unrevised'], 'times reached 0: gone');
    assert.equal(lines(path).length, 7, 'header, three puts, two counter records, the final newline');
  });

  it('an empty batch writes nothing', async () => {
    const path = fresh();
    await new FileStore(path).saveCounters([]);
    assert.throws(() => readFileSync(path), /ENOENT/);
  });

  it('an interceptor restarted over the file has the saved counts', async () => {
    const path = fresh();
    const first = new Interceptor({ store: new FileStore(path) });
    const added = await first.add({ domain: 'gmail.com', code: 421, times: 3 });
    const stored = (await new FileStore(path).load())[0]!;
    const store = new FileStore(path);
    await store.saveCounters([{ id: added.id, revision: stored.revision ?? '', hits: 2, used: 2 }]);
    await store.close();
    const second = new Interceptor({ store: new FileStore(path) });
    await second.ready();
    assert.deepEqual([second.get(added.id)?.times, second.get(added.id)?.hits], [1, 2]);
  });
});

describe('FileStore 0.1.0 files', () => {
  const fixture = resolve(import.meta.dirname, '../fixtures/file-store-0.1.0.json');
  const original = JSON.parse(readFileSync(fixture, 'utf8')) as { version: 1; rules: RuleJSON[] };

  it('reads a 0.1.0 file without changing it, and rewrites it as a journal holding every rule on the first write', async () => {
    const path = fresh();
    copyFileSync(fixture, path);
    const ic = new Interceptor({ store: new FileStore(path) });
    await ic.ready();
    assert.deepEqual(ic.list().map((r) => r.id).sort(), ids(original.rules).sort());
    assert.equal(ic.get(original.rules[0]!.id)?.hits, 4);
    assert.equal(readFileSync(path, 'utf8'), readFileSync(fixture, 'utf8'), 'loading never writes');
    const added = await ic.add({ domain: 'new.example', code: 550 });
    const [header, ...records] = lines(path);
    assert.deepEqual(JSON.parse(header!), { format: 'smtp-intercept-journal', version: 2 });
    assert.equal(records.at(-1), '');
    const reloaded = await new FileStore(path).load();
    assert.deepEqual(reloaded.filter((r) => r.id !== added.id), original.rules, 'every 0.1.0 rule, exactly');
    assert.deepEqual(ids(reloaded).at(-1), added.id);
  });
});

describe('FileStore reading large files', () => {
  // Reads are 1 MB: records straddle them, and a record (or a 0.1.0 document) may be longer than one.
  const all = Array.from({ length: 40_000 }, (_, i) => rule(`rule-with-a-longer-id-${i}`, { description: `rule ${i} ${'x'.repeat(i % 300)}` }));

  it('reads records across reads, and a record longer than a read, as written', async () => {
    const path = fresh();
    const store = new FileStore(path);
    await Promise.all(all.map((r) => store.put(r)));
    await store.saveCounters(all.map((r) => ({ id: r.id, revision: '', hits: 2, used: 0 })));
    await store.close();
    assert.ok(lines(path).at(-2)!.length > 1 << 20, 'the counters record is longer than a read');
    assert.deepEqual(await new FileStore(path).load(), all.map((r) => ({ ...r, hits: 2 })));
  });

  it('reads a 0.1.0 document longer than a read', async () => {
    const path = fresh();
    writeFileSync(path, JSON.stringify({ version: 1, rules: all }));
    assert.deepEqual(await new FileStore(path).load(), all);
  });
});

describe('FileStore group commit', () => {
  it('writes 10,000 concurrent changes in call order (several bounded batches)', async () => {
    const path = fresh();
    const store = new FileStore(path);
    await Promise.all(Array.from({ length: 10_000 }, (_, i) => store.put(rule(`r${i % 7000}`, { hits: i }))));
    await store.close();
    const loaded = await new FileStore(path).load();
    assert.equal(loaded.length, 7000);
    const byId = new Map(loaded.map((r) => [r.id, r]));
    assert.deepEqual(['r0', 'r1', 'r2', 'r3000'].map((id) => byId.get(id)?.hits), [7000, 7001, 7002, 3000], 'the later put of each id');
    assert.deepEqual(loaded.slice(0, 2).map((r) => r.id), ['r3000', 'r3001'], 'in the order they were last stored');
    assert.equal(lines(path).length, 10_002, 'one record per change');
  });
});

describe('FileStore options', () => {
  for (const [options, message] of [
    [{ compactionSlack: -1 }, /compactionSlack must be an integer >= 0 \(got -1\)/],
    [{ compactionSlack: 1.5 }, /compactionSlack must be an integer >= 0/],
    [{ onWarning: 'log' }, /onWarning must be a function/],
  ] as const) {
    it(`refuses ${JSON.stringify(options)}, naming the option`, () => {
      assert.throws(() => new FileStore(fresh(), options as never), (err: SmtpInterceptError) => err.code === 'invalid_option' && message.test(err.message));
    });
  }
});
