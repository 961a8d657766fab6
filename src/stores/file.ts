/**
 * `FileStore`: rules in an append-only journal file. Each change is one appended line; changes made
 * while a write is in flight share the next write and fsync (group commit); when the journal outgrows
 * the live set, a compacted copy is written beside it while changes keep being appended, and renamed
 * over it. Format: `file-journal.ts`; reading: `file-load.ts`; compacted files: `file-snapshot.ts`.
 */
import { type FileHandle, open } from 'node:fs/promises';
// The core's modules, not its entry: the store loads without the rule engine (and its compiled
// schema), so a process that only reads or writes rule files starts in a fraction of the time.
import { SmtpInterceptError } from '../errors.js';
import type { RuleJSON } from '../rule.js';
import { type CounterDelta, type RuleStore, StoreUnavailableError } from '../store.js';
import { countersRecord, type JournalRecord, recordLine } from './file-journal.js';
import type { Frozen, LiveSet, Placed } from './file-live.js';
import { loadRuleFile, type LoadedFile } from './file-load.js';
import { readLive, rewriteAsJournal, snapshotOfJournal } from './file-records.js';
import { copyTail, installSnapshot, discardSnapshot, removeStaleTemporaries, type Snapshot, writeAll } from './file-snapshot.js';


/** Options of `FileStore`. */
export interface FileStoreOptions {
  /**
   * Hears what the store recovered from without failing: a torn last record dropped at load (a crash
   * mid-append; reported once), a compaction that failed (the journal is kept and keeps working).
   * @default `process.emitWarning(message, { code: 'SMTP_INTERCEPT_FILE_STORE' })`
   */
  onWarning?: (message: string) => void;
  /**
   * Records the journal may hold beyond twice the live rules before it is compacted: small sets are
   * not rewritten every few changes, and the file stays within about 2x the live set plus this.
   * @default 1000
   */
  compactionSlack?: number;
}

/** Changes per write at most: a flood of concurrent calls is written in bounded buffers, in call order. */
const MAX_BATCH = 4096;

interface Change {
  readonly record: JournalRecord;
  /** Where the record was written (set by the write). */
  offset: number;
  bytes: number;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

interface Compaction {
  /** Journal bytes and records the snapshot covers; what lies beyond is copied to it at the swap. */
  readonly mark: number;
  readonly records: number;
  /** The live set at the mark, and where the snapshot wrote each of its records. */
  readonly frozen: Frozen;
  readonly placed: Placed;
  stopped: boolean;
  writing: Promise<void>;
  snapshot?: Snapshot;
}

/** What the store keeps of its file: where the live records are, never the rules themselves (but 0.1.0's, until the first write). */
interface State {
  live: LiveSet;
  /** 0.1.0's rules, until the first write rewrites them as a journal. */
  legacy: RuleJSON[] | undefined;
  format: LoadedFile['format'];
  size: number;
  records: number;
}

/**
 * Persists rules to a journal file (one per interceptor scope: pass it as `store` or `clusterStore`).
 * One `FileStore` (one process) writes a file at a time.
 *
 * @example
 * ```ts
 * const ic = new Interceptor({ store: new FileStore('./smtp-intercept.json') })
 * await ic.ready() // rejects, naming the file, if it is unreadable or corrupt
 * ```
 */
export class FileStore implements RuleStore {
  /** The file's path. */
  readonly path: string;
  /** How errors name this store: `rule file <path>`. */
  readonly description: string;
  readonly #warn: (message: string) => void;
  readonly #slack: number;
  #state: State | undefined;
  #loading: Promise<LoadedFile> | undefined;
  /** The journal open for appending while changes are being written. */
  #handle: FileHandle | undefined;
  /** Changes waiting for the next write (group commit). */
  #pending: Change[] = [];
  #running: Promise<void> | undefined;
  #compaction: Compaction | undefined;
  /** Journal records after which the next compaction may start (raised after a failed one). */
  #compactAfter = 0;
  /** Whether a change was attempted: from then on the store's own state is the file's. */
  #wrote = false;
  #reportedTorn = false;
  /** `load()`s reading records back from the journal: no compaction is swapped in meanwhile. */
  #readers = 0;
  #swapping: Promise<void> | undefined;

  constructor(path: string, options: FileStoreOptions = {}) {
    if (typeof path !== 'string' || path === '') throw new SmtpInterceptError('invalid_option', 'FileStore needs a file path');
    if (options.onWarning !== undefined && typeof options.onWarning !== 'function') {
      throw new SmtpInterceptError('invalid_option', 'FileStore option onWarning must be a function');
    }
    const { compactionSlack = 1000 } = options;
    if (!Number.isSafeInteger(compactionSlack) || compactionSlack < 0) {
      throw new SmtpInterceptError('invalid_option', `FileStore option compactionSlack must be an integer >= 0 (got ${String(compactionSlack)})`);
    }
    this.#slack = compactionSlack;
    this.path = path;
    this.description = `rule file ${path}`;
    this.#warn = options.onWarning ?? ((message) => process.emitWarning(message, { code: 'SMTP_INTERCEPT_FILE_STORE' }));
  }

  /**
   * The stored rules. Until this store has written, every call reads the file again: a file the
   * engine refused (an invalid rule) can be repaired and loaded without a new store.
   */
  async load(): Promise<RuleJSON[]> {
    if (!this.#wrote) {
      if (this.#state) this.#state = this.#loading = undefined;
      return (await this.#read()).rules;
    }
    return this.#readLive(await this.#current());
  }

  /** Appends a `put` record; resolves once it is fsynced. */
  put(rule: RuleJSON): Promise<void> {
    return this.#append({ put: rule });
  }

  /** Appends a `delete` record of the ids (absent ones are ignored at replay); resolves once it is fsynced. */
  delete(ids: readonly string[]): Promise<void> {
    return this.#append({ delete: [...ids] });
  }

  /** Appends a `clear` record; resolves once it is fsynced (the next compaction shrinks the file). */
  clear(): Promise<void> {
    return this.#append({ clear: true });
  }

  /** Appends the batch as one record (see `RuleStore.saveCounters`). */
  saveCounters(deltas: readonly CounterDelta[]): Promise<void> {
    return deltas.length === 0 ? Promise.resolve() : this.#append(countersRecord(deltas));
  }

  /** Waits for writes in flight, abandons a compaction still writing its snapshot, closes the file. */
  async close(): Promise<void> {
    if (this.#compaction) this.#compaction.stopped = true;
    await this.#compaction?.writing;
    while (this.#running) await this.#running;
  }

  async #closeHandle(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close().catch(() => undefined);
  }

  async #current(): Promise<State> {
    while (!this.#state) await this.#read();
    return this.#state;
  }

  /** Reads the file once for every caller waiting; the parsed rules are not kept past the callers. */
  #read(): Promise<LoadedFile> {
    this.#loading ??= this.#readFile().then((loaded) => {
      const { live, rules, format, size, records } = loaded;
      this.#state = { live, legacy: format === 'legacy' ? rules : undefined, format, size, records };
      this.#loading = undefined;
      return loaded;
    }, (err: unknown) => {
      this.#loading = undefined; // a repaired file is read again by the next call
      throw err;
    });
    return this.#loading;
  }

  async #readFile(): Promise<LoadedFile> {
    await removeStaleTemporaries(this.path);
    let loaded: LoadedFile;
    try {
      loaded = await loadRuleFile(this.path, Date.now());
    } catch (err) {
      if (err instanceof SmtpInterceptError) throw err;
      throw new StoreUnavailableError(`cannot read rule file ${this.path}: ${(err as Error).message}`, { cause: err });
    }
    if (loaded.torn && !this.#reportedTorn) {
      this.#reportedTorn = true;
      this.#warn(`rule file ${this.path}: dropped a torn last record at line ${loaded.torn.line} (it ${loaded.torn.why}; a crash during a write leaves one); the next write removes it`);
    }
    return loaded;
  }

  /**
   * The live rules of a store that has written, read back from its journal (with the counters saved
   * since each was written). A compaction finished meanwhile waits: the places read are the journal's.
   */
  async #readLive(state: State): Promise<RuleJSON[]> {
    if (state.format !== 'journal') return [...(state.legacy ?? [])];
    this.#readers++;
    try {
      while (this.#swapping) await this.#swapping;
      return await readLive(this.path, state.live.freeze());
    } catch (err) {
      throw new StoreUnavailableError(`cannot read rule file ${this.path}: ${(err as Error).message}`, { cause: err });
    } finally {
      if (--this.#readers === 0 && this.#compaction?.snapshot) this.#kick();
    }
  }

  #append(record: JournalRecord): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ record, offset: 0, bytes: 0, resolve, reject });
      this.#kick();
    });
  }

  #kick(): void {
    this.#running ??= this.#run().finally(() => {
      this.#running = undefined;
      if (this.#pending.length > 0 || this.#swapDue()) this.#kick();
    });
  }

  /** The writer: one batch at a time, and a finished compaction's swap between batches. Never throws. */
  async #run(): Promise<void> {
    for (;;) {
      if (this.#swapDue()) {
        this.#swapping = this.#swap(this.#compaction!, this.#compaction!.snapshot!);
        await this.#swapping;
        this.#swapping = undefined;
      }
      if (this.#pending.length === 0) return this.#closeHandle(); // no descriptor is held while idle
      const batch = this.#pending.splice(0, MAX_BATCH);
      this.#wrote = true;
      let state: State;
      try {
        state = await this.#current();
        await this.#write(state, batch);
      } catch (err) {
        const failure = err instanceof SmtpInterceptError ? err
          : new StoreUnavailableError(`cannot write rule file ${this.path}: ${(err as Error).message}`, { cause: err });
        for (const change of batch) change.reject(failure);
        continue;
      }
      // Only now, with the records durable, does the live set (what load and compaction see) move.
      for (const change of batch) state.live.apply(change.record, change.offset, change.bytes - 1);
      for (const change of batch) change.resolve();
      this.#compactIfDue(state);
    }
  }

  /** Appends the batch in one write and one fsync; on failure the journal is cut back to its last good record. */
  async #write(state: State, batch: readonly Change[]): Promise<void> {
    const handle = this.#handle ?? (await this.#open(state));
    let text = '';
    let offset = state.size;
    for (const change of batch) {
      const line = recordLine(change.record);
      text += line;
      change.offset = offset;
      offset += change.bytes = Buffer.byteLength(line);
    }
    const bytes = Buffer.from(text);
    try {
      await writeAll(handle, bytes);
      await handle.datasync();
    } catch (err) {
      // A part of the batch may be on disk: cut it off, or (if that fails too) reopen, which cuts it.
      await handle.truncate(state.size).catch(() => {
        this.#handle = undefined;
        return handle.close().catch(() => undefined);
      });
      throw err;
    }
    state.size += bytes.length;
    state.records += batch.length;
  }

  /**
   * Opens the journal for appending, first cutting off a torn last record. A missing file, or 0.1.0's
   * format, is first (re)written as a compacted journal of the live set, atomically.
   */
  async #open(state: State): Promise<FileHandle> {
    if (state.format !== 'journal') {
      Object.assign(state, await rewriteAsJournal(this.path, state.legacy ?? []), { legacy: undefined, format: 'journal' });
    }
    const handle = await open(this.path, 'a+');
    try {
      const { size } = await handle.stat();
      if (size < state.size) {
        throw new StoreUnavailableError(`rule file ${this.path} is shorter than this store left it (${size} < ${state.size} bytes): another process replaced or truncated it`);
      }
      if (size > state.size) {
        await handle.truncate(state.size);
        await handle.datasync();
      }
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw err;
    }
    return (this.#handle = handle);
  }

  /** Starts a compaction when the journal holds more than twice the live rules plus the slack. */
  #compactIfDue(state: State): void {
    if (this.#compaction || state.records <= Math.max(this.#compactAfter, 2 * state.live.size + this.#slack)) return;
    // The live set and the journal size match here (both move together, after each fsync).
    const frozen = state.live.freeze();
    const placed = { offset: new Float64Array(frozen.offset.length), length: new Uint32Array(frozen.length.length) };
    const compaction: Compaction = { mark: state.size, records: state.records, frozen, placed, stopped: false, writing: Promise.resolve() };
    compaction.writing = snapshotOfJournal(this.path, frozen, placed, () => compaction.stopped).then((snapshot) => {
      if (!snapshot) return void (this.#compaction = undefined);
      compaction.snapshot = snapshot;
      this.#kick();
    }, (err: unknown) => this.#compactionFailed(state, err));
    this.#compaction = compaction;
  }

  #swapDue(): boolean {
    return this.#compaction?.snapshot !== undefined && this.#readers === 0;
  }

  /**
   * Between batches: appends to the snapshot what was acknowledged since it was taken, and renames it
   * over the journal. Writes wait only for this copy of recent records, an fsync and a rename.
   */
  async #swap(compaction: Compaction, snapshot: Snapshot): Promise<void> {
    this.#compaction = undefined;
    const state = this.#state!;
    const tail = snapshot.size;
    try {
      const journal = this.#handle ?? (await this.#open(state));
      await copyTail(snapshot, journal, compaction.mark, state.size, state.records - compaction.records);
      await installSnapshot(snapshot, this.path);
    } catch (err) {
      await discardSnapshot(snapshot);
      return this.#compactionFailed(state, err);
    }
    state.live.rebase(compaction.frozen, compaction.placed, compaction.mark, tail - compaction.mark);
    Object.assign(state, { size: snapshot.size, records: snapshot.records });
    await this.#closeHandle(); // the next write opens the new file
  }

  #compactionFailed(state: State, err: unknown): void {
    this.#compaction = undefined;
    this.#compactAfter = state.records + 2 * state.live.size + this.#slack; // not again on every write
    this.#warn(`rule file ${this.path}: compaction failed, the journal is kept as it is (${(err as Error).message})`);
  }
}
