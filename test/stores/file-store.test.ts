import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Interceptor, SmtpInterceptError, StoreUnavailableError } from '../../src/index.js';
import { FileStore } from '../../src/stores/file.js';
import { testRuleStore } from '../../src/testing/index.js';

const dir = mkdtempSync(join(tmpdir(), 'smtp-intercept-file-'));
let n = 0;
const fresh = () => join(dir, `rules-${++n}.json`);
after(() => rmSync(dir, { recursive: true, force: true }));

describe('FileStore conformance', () => {
  testRuleStore(() => new FileStore(fresh()), { test: it, reopen: (store) => new FileStore((store as FileStore).path) });
});

describe('FileStore', () => {
  it('survives a restart: a new interceptor on the same file has the rules', async () => {
    const path = fresh();
    const first = new Interceptor({ store: new FileStore(path) });
    await first.add({ domain: 'gmail.com', code: 421, times: 2 });
    await first.add({ pool: 'p1', code: 550, cluster: true });
    await first.close();
    const second = new Interceptor({ store: new FileStore(path) });
    await second.ready();
    assert.deepEqual(second.list().map((r) => [r.domain ?? r.pool, r.code, r.times]), [['gmail.com', 421, 2], ['p1', 550, undefined]]);
    const lines = readFileSync(path, 'utf8').split('\n');
    assert.deepEqual(JSON.parse(lines[0]!), { format: 'smtp-intercept-journal', version: 2 });
    assert.deepEqual(lines.slice(1, -1).map((line) => Object.keys(JSON.parse(line))), [['put'], ['put']], 'one record per change');
    assert.equal(lines.at(-1), '');
  });

  it('clears one scope from a file holding both, or everything', async () => {
    const path = fresh();
    const ic = new Interceptor({ store: new FileStore(path) });
    await ic.add({ domain: 'instance.example', code: 421 });
    await ic.add({ domain: 'cluster.example', code: 421, cluster: true });
    assert.equal(await ic.clear('instance'), 1);
    assert.deepEqual((await new FileStore(path).load()).map((r) => r.domain), ['cluster.example']);
    await ic.add({ domain: 'again.example', code: 421 });
    assert.equal(await ic.clear(), 2);
    assert.deepEqual(await new FileStore(path).load(), []);
  });

  it('drops expired rules on load', async () => {
    const path = fresh();
    const past = new Date(Date.now() - 60_000).toISOString();
    const store = new FileStore(path);
    const ic = new Interceptor({ store });
    const live = await ic.add({ domain: 'live.example', code: 421 });
    const rule = { ...(await new Interceptor().add({ domain: 'old.example', code: 421, ttl: 3600 })).toJSON(), expires: past };
    await store.put(rule);
    const reloaded = new Interceptor({ store: new FileStore(path) });
    await reloaded.ready();
    assert.deepEqual(reloaded.list().map((r) => r.id), [live.id]);
  });

  for (const [what, content, pattern] of [
    ['not JSON', '{"version":1,"rules":[', /is not valid JSON/],
    ['not a rule file', '{"rules":{}}', /is not a smtp-intercept rule file/],
    ['a rule that is no object', JSON.stringify({ version: 1, rules: [7] }), /invalid rule at rules\[0\]/],
  ] as const) {
    it(`refuses a file that is ${what}, naming it, and never overwrites it`, async () => {
      const path = fresh();
      writeFileSync(path, content);
      const ic = new Interceptor({ store: new FileStore(path) });
      await assert.rejects(ic.ready(), (err: SmtpInterceptError) => err.code === 'store_invalid' && err.message.includes(path) && pattern.test(err.message));
      await assert.rejects(ic.add({ domain: 'a.example', code: 421 }), (err: SmtpInterceptError) => err.message.includes(path));
      assert.equal(readFileSync(path, 'utf8'), content);
      assert.equal(ic.size, 0);
      // Once the file is repaired, ready() and writes work again.
      writeFileSync(path, '{"version":1,"rules":[]}');
      await ic.ready();
      await ic.add({ domain: 'a.example', code: 421 });
      assert.equal(readFileSync(path, 'utf8').split('\n').length, 3, 'the header and the put');
    });
  }

  it('refuses a stored rule the engine would refuse, naming it and the file; the file stays as it is until repaired', async () => {
    const path = fresh();
    const content = JSON.stringify({ version: 1, rules: [{ id: 'x', code: 999, cluster: false, created: '2026-01-01T00:00:00Z', updated: '2026-01-01T00:00:00Z', hits: 0 }] });
    writeFileSync(path, content);
    const ic = new Interceptor({ store: new FileStore(path) });
    const named = (err: unknown) => err instanceof Error && err.message.startsWith(`rule file ${path}: stored rule x: code must be`);
    await assert.rejects(ic.ready(), named);
    await assert.rejects(ic.add({ domain: 'a.example', code: 421 }), named);
    assert.equal(readFileSync(path, 'utf8'), content);
    writeFileSync(path, '{"version":1,"rules":[]}');
    await ic.ready();
    await ic.add({ domain: 'a.example', code: 421 });
    assert.equal(readFileSync(path, 'utf8').split('\n').length, 3);
  });

  it('rejects writes it cannot make, leaving the rule set and the file unchanged', async () => {
    const path = join(dir, 'missing-dir', 'rules.json');
    const ic = new Interceptor({ store: new FileStore(path) });
    await ic.ready();
    await assert.rejects(ic.add({ domain: 'a.example', code: 421 }), (err: StoreUnavailableError) => err instanceof StoreUnavailableError && err.message.includes(path));
    assert.equal(ic.size, 0);
  });

  it('removes temporary files of its own naming left by dead processes at start, and nothing else', async () => {
    const sub = mkdtempSync(join(dir, 'stale-'));
    const path = join(sub, 'rules.json');
    // A pid that surely belongs to no process: one that has just exited.
    const child = spawn(process.execPath, ['-e', '']);
    const dead = child.pid!;
    await new Promise((resolve) => child.once('exit', resolve));
    const stale = [`.rules.json.${dead}.1.tmp`, `.rules.json.${dead}.27.tmp`];
    const kept = [`.rules.json.${process.ppid}.3.tmp`, '.other.json.1.1.tmp', `.rules.json.${dead}.x.tmp`, 'rules.json.bak'];
    for (const name of [...stale, ...kept]) writeFileSync(join(sub, name), '{}');
    const ic = new Interceptor({ store: new FileStore(path) });
    await ic.ready();
    assert.deepEqual(readdirSync(sub).sort(), [...kept].sort());
  });

  it('leaves no temporary files behind', async () => {
    const sub = mkdtempSync(join(dir, 'clean-'));
    const ic = new Interceptor({ store: new FileStore(join(sub, 'rules.json')) });
    for (let i = 0; i < 10; i++) await ic.add({ domain: `d${i}.example`, code: 421 });
    assert.deepEqual(readdirSync(sub), ['rules.json']);
  });
});
