// FileStore compaction: while changes keep coming (and checks keep running), nothing acknowledged is lost.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Interceptor, type RuleJSON } from '../../src/index.js';
import { FileStore } from '../../src/stores/file.js';

const dir = mkdtempSync(join(tmpdir(), 'smtp-intercept-compaction-'));
let n = 0;
const fresh = () => join(dir, `rules-${++n}.json`);
after(() => rmSync(dir, { recursive: true, force: true }));
const recordCount = (path: string) => readFileSync(path, 'utf8').split('\n').length - 2; // minus header and final newline
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('FileStore compaction', () => {
  it('keeps every acknowledged change of puts made while it runs, and bounds the journal', async () => {
    const path = fresh();
    const store = new FileStore(path);
    const last = new Map<string, number>();
    const writes: Promise<void>[] = [];
    let inode = -1, compactions = 0;
    for (let i = 0; i < 4000; i++) {
      const id = `r${i % 100}`;
      last.set(id, 400 + (i % 100));
      writes.push(store.put({ id, code: 400 + (i % 100), cluster: false, created: '', updated: '', hits: i } as RuleJSON));
      // About 50 puts in flight at any time: batches are written (and compactions run) between the calls.
      if (i % 25 === 0) {
        await writes[i - 50];
        const now = (() => { try { return statSync(path).ino; } catch { return -1; } })();
        if (inode !== -1 && now !== inode) compactions++;
        inode = now;
      }
    }
    await Promise.all(writes);
    await store.close();
    assert.ok(compactions >= 2, `compacted while writing (${compactions} renames seen)`);
    const loaded = await new FileStore(path).load();
    assert.deepEqual(new Map(loaded.map((r) => [r.id, r.code])), last);
    assert.deepEqual(loaded.map((r) => r.hits).sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => 3900 + i), 'the last put of each id');
    assert.ok(recordCount(path) <= 2 * 100 + 1000 + 25, `the journal stays bounded (${recordCount(path)} records)`);
  });

  it('an interceptor keeps answering checks while adds run and the journal is compacted; all acked rules are there after reopen', async () => {
    const path = fresh();
    // A small slack: the journal is compacted after about 2 x 70 + 50 records, twice or more here.
    const ic = new Interceptor({ store: new FileStore(path, { compactionSlack: 50 }) });
    const stable = [];
    for (let i = 0; i < 50; i++) stable.push(await ic.add({ domain: `stable${i}.example`, code: 421 }));
    let inode = statSync(path).ino, writing = true, checks = 0, compactions = 0;
    const codes = new Map<string, number>();
    const checking = (async () => {
      while (writing) {
        for (let i = 0; i < 50; i += 3) {
          const forced = ic.check({ recipient: `x@stable${i}.example` });
          assert.equal(forced?.rule.id, stable[i]!.id, `stable rule ${i} forced at check ${checks}`);
          checks++;
        }
        const churned = ic.check({ recipient: 'x@churn3.example' });
        if (codes.has('churn3.example')) assert.equal(churned?.rule.domain, 'churn3.example', 'a churned rule stays there, old or new');
        const now = statSync(path).ino; // a compaction renames a new file over the journal
        if (now !== inode) compactions++;
        inode = now;
        await tick();
      }
    })();
    try {
      for (let i = 0; i < 500; i++) {
        const domain = `churn${i % 20}.example`;
        await ic.add({ domain, code: 450 + (i % 10) });
        codes.set(domain, 450 + (i % 10));
      }
    } finally {
      writing = false;
      await checking;
    }
    assert.ok(checks > 500, `checks ran alongside (${checks})`);
    assert.ok(compactions >= 2, `compacted while checks ran (${compactions} renames seen)`);
    assert.ok(recordCount(path) < 300, `compacted (${recordCount(path)} records for 550 writes)`);
    await ic.close();
    const reopened = new Interceptor({ store: new FileStore(path) });
    await reopened.ready();
    assert.equal(reopened.size, 70);
    for (const [domain, code] of codes) assert.equal(reopened.check({ recipient: `x@${domain}` })?.code, code, domain);
  });
});
