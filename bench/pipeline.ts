// Group commit through the engine: 1,000 concurrent `Interceptor.add` calls against 1,000 sequential
// ones, on a store whose writes cost a real fsync. `npm run bench:pipeline`.
//
// `AppendStore` is a bench-only store that appends the writes made while an fsync is under way as one
// batch (one append, one fsync), the way a journal store does: concurrent adds can only share an fsync
// when the engine has several writes in flight. The same figures for `FileStore` (whole file rewritten
// and fsynced per change, writes serialised: it cannot batch) are printed for comparison.
import { mkdtempSync, rmSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Interceptor, type RuleJSON, type RuleStore } from '../src/index.js';
import { FileStore } from '../src/stores/file.js';

const ADDS = 1000;
const ROUNDS = 3;

/** Rules in memory, every change appended to a file and fsynced; changes that arrive during an fsync share the next. */
class AppendStore implements RuleStore {
  readonly #rules = new Map<string, RuleJSON>();
  #file: Promise<FileHandle> | undefined;
  #batch: { lines: string[]; done: Promise<void> } | undefined;
  #flushing: Promise<void> = Promise.resolve();
  fsyncs = 0;

  constructor(readonly path: string) {}

  async load(): Promise<RuleJSON[]> {
    return [...this.#rules.values()];
  }

  put(rule: RuleJSON): Promise<void> {
    this.#rules.set(rule.id, rule); // in call order, as the RuleStore contract asks
    return this.#append(JSON.stringify({ put: rule }));
  }

  delete(ids: readonly string[]): Promise<void> {
    for (const id of ids) this.#rules.delete(id);
    return this.#append(JSON.stringify({ delete: ids }));
  }

  clear(): Promise<void> {
    this.#rules.clear();
    return this.#append('{"clear":true}');
  }

  async close(): Promise<void> {
    await this.#flushing;
    await (await this.#file)?.close();
  }

  /** Joins the batch the next fsync will write: the one after the fsync under way, if any. */
  #append(line: string): Promise<void> {
    if (this.#batch) {
      this.#batch.lines.push(line);
      return this.#batch.done;
    }
    const lines = [line];
    const done = this.#flushing.then(async () => {
      this.#batch = undefined; // later changes join the next batch
      const file = await (this.#file ??= open(this.path, 'a'));
      await file.appendFile(`${lines.join('\n')}\n`);
      await file.sync();
      this.fsyncs++;
    });
    this.#batch = { lines, done };
    this.#flushing = done.catch(() => undefined);
    return done;
  }
}

async function measure(store: RuleStore & { fsyncs?: number }, prefix: string): Promise<{ sequential: number; concurrent: number; fsyncs: [number, number] }> {
  const ic = new Interceptor({ store });
  await ic.ready();
  let t = performance.now();
  for (let i = 0; i < ADDS; i++) await ic.add({ domain: `${prefix}s${i}.example`, code: 421 });
  const sequential = ADDS / ((performance.now() - t) / 1000);
  const afterSequential = store.fsyncs ?? 0;
  t = performance.now();
  await Promise.all(Array.from({ length: ADDS }, (_, i) => ic.add({ domain: `${prefix}c${i}.example`, code: 421 })));
  const concurrent = ADDS / ((performance.now() - t) / 1000);
  if (ic.size !== 2 * ADDS) throw new Error(`expected ${2 * ADDS} rules, found ${ic.size}`);
  await ic.close();
  await store.close();
  return { sequential, concurrent, fsyncs: [afterSequential, (store.fsyncs ?? 0) - afterSequential] };
}

const dir = mkdtempSync(join(tmpdir(), 'smtp-intercept-bench-pipeline-'));
try {
  const rounds: Awaited<ReturnType<typeof measure>>[] = [];
  for (let round = 0; round < ROUNDS; round++) rounds.push(await measure(new AppendStore(join(dir, `append-${round}.log`)), `r${round}`));
  const best = (key: 'sequential' | 'concurrent') => Math.max(...rounds.map((r) => r[key]));
  const file = await measure(new FileStore(join(dir, 'rules.json')), 'f');
  const rate = (n: number) => `${n.toFixed(0)} adds/s`;
  console.log(`node ${process.version}; ${ADDS} adds one at a time, then ${ADDS} at once (Promise.all), into the same interceptor; best of ${ROUNDS} rounds`);
  console.log(`AppendStore (group commit)  sequential ${rate(best('sequential'))}  concurrent ${rate(best('concurrent'))}  ratio ${(best('concurrent') / best('sequential')).toFixed(1)}x`);
  console.log(`  fsyncs per round: ${rounds.map((r) => `${r.fsyncs[0]} sequential, ${r.fsyncs[1]} concurrent`).join('; ')}`);
  console.log(`FileStore (rewrite per change, cannot batch)  sequential ${rate(file.sequential)}  concurrent ${rate(file.concurrent)}  ratio ${(file.concurrent / file.sequential).toFixed(1)}x`);
  const ratio = best('concurrent') / best('sequential');
  console.log();
  console.log(`${ratio >= 10 ? 'MET   ' : 'MISSED'} 1,000 concurrent adds >= 10x the throughput of 1,000 sequential ones (group-committing store): ${ratio.toFixed(1)}x`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
