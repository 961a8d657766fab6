// Counters after a crash: a child process checking a FileStore rule in a loop is SIGKILLed; the reload
// holds at least the last save it acknowledged and never more than it counted. Should a count ever be
// made up, the assertions say where: the engine sent more than it counted, or the store holds more than
// it was sent.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { Interceptor } from '../src/index.js';
import { FileStore } from '../src/stores/file.js';

const dir = mkdtempSync(join(tmpdir(), 'smtp-intercept-counter-crash-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('counters after a crash', () => {
  it('SIGKILL loses at most the counts since the last durable save, and the reload shows what was saved', async () => {
    const path = join(dir, 'crash.json');
    const flushMs = 20;
    const setup = new Interceptor({ store: new FileStore(path) });
    await setup.ready();
    const rule = await setup.add({ domain: 'crash.example', code: 421, times: 10_000_000 });
    await setup.close();
    const checker = resolve(import.meta.dirname, 'fixtures/counter-checker.mjs');
    let expected = 0;
    for (let run = 0; run < 8; run++) {
      const child = spawn(process.execPath, [checker, path, rule.id, String(flushMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
      const seen = { ready: -1, checked: -1, sent: 0, saved: -1, saves: 0 };
      let output = '';
      const enough = new Promise<void>((done) => {
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          const lines = output.split('\n');
          output = lines.pop()!;
          for (const line of lines) {
            const [what, count] = line.split(' ') as [keyof typeof seen, string];
            seen[what] = Math.max(seen[what], Number(count));
            if (what === 'saved') seen.saves++;
          }
          // Kill at a varying moment once a few saves are durable.
          if (seen.saves >= 3 + (run % 4)) done();
        });
        child.once('exit', () => done());
      });
      await enough;
      await new Promise((done) => setTimeout(done, (run * 7) % (2 * flushMs))); // at varying points of an interval
      child.kill('SIGKILL');
      await new Promise((done) => child.once('close', done));
      assert.ok(seen.saves >= 3, `the checker saved counters before it was killed (run ${run}): ${JSON.stringify(seen)}`);
      assert.equal(seen.ready, expected, 'a restart resumes from the saved counts');

      const reopened = new Interceptor({ store: new FileStore(path) });
      await reopened.ready();
      const stored = reopened.get(rule.id)!;
      await reopened.close();
      assert.ok(stored.hits >= seen.saved, `every durable save is kept (run ${run}): stored ${stored.hits}, last saved ${seen.saved}`);
      const state = JSON.stringify({ ...seen, stored: stored.hits });
      assert.ok(seen.sent <= seen.checked - seen.ready, `the engine sends no more hits than it counted (run ${run}): ${state}`);
      assert.ok(stored.hits - seen.ready <= seen.sent, `the store holds no more hits than it was sent (run ${run}): ${state}`);
      assert.ok(stored.hits <= seen.checked, `no count is made up (run ${run}): ${state}`);
      assert.equal(stored.times, 10_000_000 - stored.hits, 'hits and times are saved together');
      expected = stored.hits;
    }
  });
});
