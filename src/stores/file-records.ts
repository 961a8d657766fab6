/**
 * Reading live records back from the journal by their place (`LiveSet`): for a compaction, and for a
 * `load()` after the store has written. Internal to `smtp-intercept/stores/file`.
 */
import { type FileHandle, open } from 'node:fs/promises';
import type { RuleJSON } from '../rule.js';
import { countedRule, type Frozen, LiveSet, type Placed } from './file-live.js';
import { installSnapshot, rulesSource, type Snapshot, writeSnapshot } from './file-snapshot.js';

/** Bytes read at most per read: live records close together in the file are read together, with the dead ones between. */
const SPAN = 1 << 20;
/** Live records read back per step by a `load()` after the store has written. */
const LOAD_CHUNK = 4096;

/** The rules of `frozen`, read back from the journal at `path` (whose places it holds). */
export async function readLive(path: string, frozen: Frozen): Promise<RuleJSON[]> {
  const journal = await open(path, 'r');
  try {
    const rules: RuleJSON[] = [];
    for (let i = 0; i < frozen.slots.length; i += LOAD_CHUNK) {
      for (const record of await readRecords(journal, frozen, i, Math.min(frozen.slots.length, i + LOAD_CHUNK))) {
        rules.push((JSON.parse(record.toString('utf8')) as { put: RuleJSON }).put);
      }
    }
    return rules;
  } finally {
    await journal.close();
  }
}

/**
 * A compacted copy of the journal at `path` holding the live set `frozen`, read back from it (the
 * journal only grows past the places read until the copy replaces it), noting in `placed` where each
 * record lands. Undefined when `stopped()` turned true.
 */
export async function snapshotOfJournal(path: string, frozen: Frozen, placed: Placed, stopped: () => boolean): Promise<Snapshot | undefined> {
  const journal = await open(path, 'r');
  try {
    return await writeSnapshot(path, {
      count: frozen.slots.length,
      records: (from, to) => readRecords(journal, frozen, from, to),
      placed: (index, offset, length) => {
        placed.offset[frozen.slots[index]!] = offset;
        placed.length[frozen.slots[index]!] = length;
      },
    }, stopped);
  } finally {
    await journal.close();
  }
}

/**
 * The records of entries `from`..`to` of `frozen` (without newlines), each as written, or rewritten
 * with the counters saved since, in one read per `SPAN` of the file.
 */
export async function readRecords(journal: FileHandle, frozen: Frozen, from: number, to: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (let i = from; i < to;) {
    const start = frozen.offset[frozen.slots[i]!]!;
    let end = start + frozen.length[frozen.slots[i]!]!;
    let last = i + 1;
    // Live records come in file order (`LiveSet`): one read spans the next ones up to SPAN bytes.
    for (; last < to; last++) {
      const slot = frozen.slots[last]!;
      if (frozen.offset[slot]! < end || frozen.offset[slot]! + frozen.length[slot]! - start > SPAN) break;
      end = frozen.offset[slot]! + frozen.length[slot]!;
    }
    const span = Buffer.allocUnsafe(end - start);
    for (let read = 0; read < span.length;) {
      const { bytesRead } = await journal.read(span, read, span.length - read, start + read);
      if (bytesRead === 0) throw new Error(`the journal ends at ${start + read} bytes, before ${end}`);
      read += bytesRead;
    }
    for (; i < last; i++) {
      const slot = frozen.slots[i]!;
      const line = span.subarray(frozen.offset[slot]! - start, frozen.offset[slot]! - start + frozen.length[slot]!);
      if (frozen.hits[slot] === 0 && frozen.used[slot] === 0) out.push(line);
      else out.push(Buffer.from(JSON.stringify({ put: countedRule(line.toString('utf8'), frozen, slot) })));
    }
  }
  return out;
}

/** Replaces the file at `path` with a journal of `rules` (a missing file, 0.1.0's document), atomically; gives its live set. */
export async function rewriteAsJournal(path: string, rules: readonly RuleJSON[]): Promise<{ live: LiveSet; size: number; records: number }> {
  const live = new LiveSet();
  const snapshot = (await writeSnapshot(path, rulesSource(rules, (i, offset, length) => live.put(rules[i]!, offset, length)), () => false))!;
  await installSnapshot(snapshot, path);
  return { live, size: snapshot.size, records: snapshot.records };
}
