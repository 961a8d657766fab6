/**
 * Reading live records back from the journal by their place (`LiveSet`): for a compaction, and for a
 * `load()` after the store has written. Internal to `smtp-intercept/stores/file`.
 */
import type { FileHandle } from 'node:fs/promises';
import { countedRule, type Frozen } from './file-live.js';

/** Bytes read at most per read: records next to each other in the file are read together. */
const SPAN = 1 << 20;

/**
 * The records of entries `from`..`to` of `frozen` (without newlines), each as written, or rewritten
 * with the counters saved since. Records stored one after another (a compacted file, a fresh load)
 * come in one read per span.
 */
export async function readRecords(journal: FileHandle, frozen: Frozen, from: number, to: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (let i = from; i < to;) {
    const start = frozen.offset[frozen.slots[i]!]!;
    let end = start + frozen.length[frozen.slots[i]!]!;
    let last = i + 1;
    for (; last < to; last++) {
      const slot = frozen.slots[last]!;
      if (frozen.offset[slot] !== end + 1 || frozen.offset[slot]! + frozen.length[slot]! - start > SPAN) break;
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
