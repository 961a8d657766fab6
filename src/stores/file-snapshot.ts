/**
 * Compacted `FileStore` files: the live set written to a temporary file next to the store file, then
 * renamed over it (fsync of the file, then of the directory), so a crash leaves the old journal or the
 * new one, never a mix. Also the clean-up of temporary files dead processes left. Internal to
 * `smtp-intercept/stores/file`.
 */
import { type FileHandle, open, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { RuleJSON } from '../rule.js';
import { JOURNAL_HEADER } from './file-journal.js';

/**
 * Rules serialised per write (about 75 KB): writes and checks run between the chunks of a big snapshot.
 * With 4,096 rules per chunk, puts made during a 100k-rule compaction waited 140 ms (p50) instead of 7.
 */
const RULES_PER_CHUNK = 256;
/**
 * The snapshot's data is fsynced every this many bytes: an fsync of the journal meanwhile can have to
 * flush the file system's dirty data with it, so little is left dirty (p50 of those puts: 19 ms -> 7 ms).
 */
const SYNC_BYTES = 1 << 20;
/** Bytes copied per read when the records that arrived during a compaction are appended to it. */
const COPY_CHUNK = 1 << 20;

let temporaryCounter = 0;

/** A compacted journal being written: not yet the store file. */
export interface Snapshot {
  readonly temporary: string;
  readonly handle: FileHandle;
  /** Bytes written so far. */
  size: number;
  /** Records in it (one per rule, plus any copied). */
  records: number;
}

/** What a snapshot holds: `count` records, read `RULES_PER_CHUNK` at a time. */
export interface SnapshotSource {
  readonly count: number;
  /** Records `from`..`to` (each a `put` line without its newline). */
  records(from: number, to: number): Promise<readonly Buffer[]>;
  /** Hears where record `index` was written (`length` bytes at `offset`). */
  placed(index: number, offset: number, length: number): void;
}

/**
 * Writes the header and the source's records to a new temporary file. Resolves to undefined (and
 * removes the file) when `stopped()` turns true between chunks: a store being closed does not wait for it.
 */
export async function writeSnapshot(path: string, source: SnapshotSource, stopped: () => boolean): Promise<Snapshot | undefined> {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${++temporaryCounter}.tmp`);
  const handle = await open(temporary, 'wx', 0o600);
  const snapshot: Snapshot = { temporary, handle, size: 0, records: 0 };
  try {
    snapshot.size += (await handle.write(JOURNAL_HEADER)).bytesWritten;
    let unsynced = 0;
    for (let i = 0; i < source.count; i += RULES_PER_CHUNK) {
      if (stopped()) return void (await discardSnapshot(snapshot));
      const records = await source.records(i, Math.min(source.count, i + RULES_PER_CHUNK));
      const parts: Buffer[] = [];
      let offset = snapshot.size;
      for (const [k, record] of records.entries()) {
        source.placed(i + k, offset, record.length);
        parts.push(record, NEWLINE);
        offset += record.length + 1;
      }
      const bytes = Buffer.concat(parts, offset - snapshot.size);
      await writeAll(handle, bytes);
      snapshot.size += bytes.length;
      unsynced += bytes.length;
      if (unsynced >= SYNC_BYTES) {
        await handle.datasync();
        unsynced = 0;
      }
    }
    snapshot.records = source.count;
    return snapshot;
  } catch (err) {
    await discardSnapshot(snapshot);
    throw err;
  }
}

/** The source of a snapshot of parsed rules (0.1.0's file, rewritten as a journal on the first write). */
export function rulesSource(rules: readonly RuleJSON[], placed: SnapshotSource['placed']): SnapshotSource {
  return {
    count: rules.length,
    records: async (from, to) => rules.slice(from, to).map((rule) => Buffer.from(JSON.stringify({ put: rule }))),
    placed,
  };
}

const NEWLINE = Buffer.from('\n');

/** Appends bytes `from`..`to` of `journal` (the records acknowledged while the snapshot was written). */
export async function copyTail(snapshot: Snapshot, journal: FileHandle, from: number, to: number, records: number): Promise<void> {
  for (let position = from; position < to;) {
    const buffer = Buffer.allocUnsafe(Math.min(COPY_CHUNK, to - position));
    const { bytesRead } = await journal.read(buffer, 0, buffer.length, position);
    if (bytesRead === 0) throw new Error(`the journal ends at ${position} bytes, before ${to}`);
    await writeAll(snapshot.handle, buffer.subarray(0, bytesRead));
    position += bytesRead;
    snapshot.size += bytesRead;
  }
  snapshot.records += records;
}

/** Makes the snapshot the store file: fsync, rename over `path`, fsync of the directory. */
export async function installSnapshot(snapshot: Snapshot, path: string): Promise<void> {
  try {
    await snapshot.handle.sync();
    await snapshot.handle.close();
    await rename(snapshot.temporary, path);
  } catch (err) {
    await discardSnapshot(snapshot);
    throw err;
  }
  // After the rename the file holds the new journal: a failed directory fsync cannot undo that, so it
  // does not fail the change (only a crash in the next instant could still lose the rename).
  await syncDirectory(dirname(path)).catch(() => undefined);
}

/** Closes and removes an abandoned snapshot; failures are ignored (a leftover is cleaned up at the next start). */
export async function discardSnapshot(snapshot: Snapshot): Promise<void> {
  await snapshot.handle.close().catch(() => undefined);
  await rm(snapshot.temporary, { force: true }).catch(() => undefined);
}

/** Writes the whole buffer (a regular file may take it in several writes). */
export async function writeAll(handle: FileHandle, buffer: Buffer): Promise<void> {
  for (let offset = 0; offset < buffer.length;) offset += (await handle.write(buffer, offset)).bytesWritten;
}

/**
 * Removes temporary files of this store's naming left by processes that died mid-write (a live
 * process's, including this one's, may be a write in flight and are kept). Failures are ignored: a
 * leftover file costs disk space, never correctness.
 */
export async function removeStaleTemporaries(path: string): Promise<void> {
  const dir = dirname(path);
  const prefix = `.${basename(path)}.`;
  const names = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(names.map(async (name) => {
    const pid = temporaryPid(name, prefix);
    if (pid !== undefined && !alive(pid)) await rm(join(dir, name), { force: true }).catch(() => undefined);
  }));
}

/** The pid in a temporary file name `<prefix><pid>.<n>.tmp`, or undefined for any other name. */
function temporaryPid(name: string, prefix: string): number | undefined {
  if (!name.startsWith(prefix) || !name.endsWith('.tmp')) return undefined;
  const match = /^(\d+)\.(\d+)\.tmp$/.exec(name.slice(prefix.length));
  return match ? Number(match[1]) : undefined;
}

/** Whether a process with this pid exists (EPERM: it exists, owned by another user). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Makes a rename durable. Some platforms cannot fsync a directory; there the rename is as durable as it gets. */
async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EBADF') throw err;
  } finally {
    await handle?.close();
  }
}
