/**
 * `FileStore`: rules in an append-only journal file. Each change is one appended line; changes made
 * while a write is in flight share the next write and fsync (group commit); when the journal outgrows
 * the live set, a compacted copy is written beside it while changes keep being appended, and renamed
 * over it. Format: `file-journal.ts`; reading: `file-load.ts`; compaction: `file-compaction.ts`;
 * compacted files: `file-snapshot.ts`.
 */
import { type FileHandle, open } from 'node:fs/promises';
// The core's modules, not its entry: the store loads without the rule engine (and its compiled
// schema), so a process that only reads or writes rule files starts in a fraction of the time.
import { SmtpInterceptError } from '../errors.js';
import type { RuleJSON } from '../rule.js';
import { type CounterDelta, type RuleStore, StoreUnavailableError } from '../store.js';
import { Compactor, type JournalState } from './file-compaction.js';
import { countersRecord, type JournalRecord, recordLine } from './file-journal.js';
import { loadRuleFile, type LoadedFile } from './file-load.js';
import { readLive, rewriteAsJournal } from './file-records.js';
import { removeStaleTemporaries, writeAll } from './file-snapshot.js';

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

/** What the store keeps of its file: where the live records are, never the rules themselves (but 0.1.0's, until the first write). */
interface State extends JournalState {
  /** 0.1.0's rules, until the first write rewrites them as a journal. */
  legacy: RuleJSON[] | undefined;
  format: LoadedFile['format'];
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
  readonly #compactor: Compactor<State>;
  #state: State | undefined;
  #loading: Promise<LoadedFile> | undefined;
  /** The journal open for appending while changes are being written. */
  #handle: FileHandle | undefined;
  /** Changes waiting for the next write (group commit). */
  #pending: Change[] = [];
  #running: Promise<void> | undefined;
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
    this.path = path;
    this.description = `rule file ${path}`;
    const warn = (this.#warn = options.onWarning ?? ((message) => process.emitWarning(message, { code: 'SMTP_INTERCEPT_FILE_STORE' })));
    this.#compactor = new Compactor<State>({ path, warn, wake: () => this.#kick(), release: () => this.#closeHandle(),
      journal: async (state) => this.#handle ?? (await this.#open(state)) }, compactionSlack);
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
    await this.#compactor.stop();
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
      if (--this.#readers === 0 && this.#compactor.ready) this.#kick();
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
        this.#swapping = this.#compactor.swap(this.#state!);
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
      this.#compactor.startIfDue(state);
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

  #swapDue(): boolean {
    return this.#compactor.ready && this.#readers === 0;
  }
}
