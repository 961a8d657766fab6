// FileStore under SIGKILL: a child writing concurrently (puts, deletes, counters; compactions every few
// hundred records) is killed at random moments; after every kill the file loads and holds every
// acknowledged change. SMTP_INTERCEPT_CRASH_KILLS sets the number of kills (default 200).
import assert from 'node:assert/strict';
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, it } from 'node:test';
import { FileStore } from '../../src/stores/file.js';

const KILLS = Number(process.env.SMTP_INTERCEPT_CRASH_KILLS ?? 200);
const writer = resolve(import.meta.dirname, '../fixtures/journal-writer.mjs');
const dir = mkdtempSync(join(tmpdir(), 'smtp-intercept-crash-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The journal's lines that mention `id`, to tell a lost record from a delete the test did not hear of. */
function recordsNaming(path: string, id: string): string {
  return readFileSync(path, 'utf8').split('\n').filter((line) => line.includes(`"${id}"`)).map((line) => line.slice(0, 80)).join(' / ') || 'none';
}

/** A writer child, started and ready (its modules loaded) before its round begins. */
function startWriter(): Promise<ChildProcess> {
  // No inherited loader flags (tsx): the child is plain JavaScript over the build, quick to start.
  const child = fork(writer, { stdio: ['ignore', 'pipe', 'inherit', 'ipc'], execArgv: [] });
  return new Promise((resolve, reject) => {
    child.once('message', () => resolve(child));
    child.once('exit', (code, signal) => reject(new Error(`the writer exited before it was ready (${code ?? signal})`)));
  });
}

it(`every acknowledged change survives ${KILLS} SIGKILLs of a concurrent writer`, async (t) => {
  const path = join(dir, 'rules.json');
  let seed = 20261202;
  const random = () => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed / 2 ** 32; };
  const present = new Set<string>(); // acknowledged puts not deleted since
  const deleted = new Set<string>();
  const counted = new Map<string, number>();
  let torn = 0, duringCompaction = 0, acknowledged = 0;
  // Writers for the next rounds start while this one runs: start-up is most of a round's time.
  const starting = [startWriter(), startWriter()];
  for (let round = 0; round < KILLS; round++) {
    const child = await starting.shift()!;
    starting.push(startWriter());
    let first: () => void = () => undefined;
    const writing = new Promise<void>((resolve) => { first = resolve; });
    let partial = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      const text = partial + chunk.toString();
      const lines = text.split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        const [op, id] = line.split(' ') as [string, string];
        if (op !== '-') acknowledged++;
        if (op === 'p') present.add(id);
        else if (op === '-') present.delete(id); // a delete in flight may land or not
        else if (op === 'd') deleted.add(id);
        else counted.set(id, (counted.get(id) ?? 0) + 1);
      }
      first();
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    void exited.then(() => first()); // never wait forever on a writer that died by itself
    child.send({ path, round });
    await writing;
    await new Promise((r) => setTimeout(r, random() * 25));
    child.kill('SIGKILL');
    await exited;
    if (readdirSync(dir).some((name) => name.endsWith('.tmp'))) duringCompaction++;
    const warnings: string[] = [];
    const loaded = await new FileStore(path, { onWarning: (message) => warnings.push(message) }).load();
    torn += warnings.length;
    const ids = new Map(loaded.map((rule) => [rule.id, rule]));
    for (const id of present) {
      if (!ids.has(id)) assert.fail(`round ${round}: acknowledged put ${id} is missing; the records naming it: ${recordsNaming(path, id)}`);
    }
    for (const id of deleted) assert.ok(!ids.has(id), `round ${round}: acknowledged delete of ${id} holds`);
    for (const [id, hits] of counted) {
      const rule = ids.get(id);
      if (rule) assert.ok(rule.hits >= hits, `round ${round}: ${id} has its ${hits} acknowledged hits (${rule.hits})`);
    }
    // Unacknowledged puts the file kept are acknowledged by the next writer's load: they count from now.
    for (const id of ids.keys()) present.add(id);
  }
  for (const child of await Promise.all(starting)) child.kill('SIGKILL');
  t.diagnostic(`${KILLS} kills, ${acknowledged} acknowledged changes, ${torn} torn tails recovered, ${duringCompaction} kills during a compaction`);
  assert.ok(acknowledged > KILLS, 'the writers made progress');
});
