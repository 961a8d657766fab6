/**
 * `FileStore`'s compaction: when the journal outgrows the live set, a snapshot of the live records is
 * written beside it while changes keep being appended, then (between the writer's batches) the records
 * acknowledged since are copied to it and it is renamed over the journal. A failure keeps the journal
 * as it is. Internal to `smtp-intercept/stores/file`.
 */
import type { FileHandle } from 'node:fs/promises';
import type { Frozen, LiveSet, Placed } from './file-live.js';
import { snapshotOfJournal } from './file-records.js';
import { copyTail, discardSnapshot, installSnapshot, type Snapshot } from './file-snapshot.js';

/** What a compaction reads and moves of the store's state: the live set and the journal's extent. */
export interface JournalState {
  /** Replaced whole only when a 0.1.0 file is rewritten as a journal, before any compaction. */
  live: LiveSet;
  /** Journal bytes and records, both moved only after an fsync (and by a swap). */
  size: number;
  records: number;
}

/** What the compaction needs of the store that owns the journal. */
export interface CompactionHost<S extends JournalState> {
  /** The journal's path. */
  readonly path: string;
  /** Reports a failed compaction (the store keeps working). */
  warn(message: string): void;
  /** Wakes the writer: a snapshot is ready to be swapped in between batches. */
  wake(): void;
  /** The journal open for appending, opened if need be. */
  journal(state: S): Promise<FileHandle>;
  /** Closes the journal's descriptor: after a swap the next write opens the renamed file. */
  release(): Promise<void>;
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

/**
 * At most one compaction of one journal at a time: started by the writer after a batch, swapped in by
 * the writer between batches (so no append runs during the swap), stopped by the store's `close()`.
 */
export class Compactor<S extends JournalState> {
  readonly #host: CompactionHost<S>;
  readonly #slack: number;
  #compaction: Compaction | undefined;
  /** Journal records after which the next compaction may start (raised after a failed one). */
  #compactAfter = 0;

  /** `slack`: records the journal may hold beyond twice the live rules before it is compacted. */
  constructor(host: CompactionHost<S>, slack: number) {
    this.#host = host;
    this.#slack = slack;
  }

  /** Whether a snapshot is written and waits for `swap()`. */
  get ready(): boolean {
    return this.#compaction?.snapshot !== undefined;
  }

  /** Starts a compaction when the journal holds more than twice the live rules plus the slack. */
  startIfDue(state: S): void {
    if (this.#compaction || state.records <= Math.max(this.#compactAfter, 2 * state.live.size + this.#slack)) return;
    // The live set and the journal size match here (both move together, after each fsync).
    const frozen = state.live.freeze();
    const placed = { offset: new Float64Array(frozen.offset.length), length: new Uint32Array(frozen.length.length) };
    const compaction: Compaction = { mark: state.size, records: state.records, frozen, placed, stopped: false, writing: Promise.resolve() };
    compaction.writing = snapshotOfJournal(this.#host.path, frozen, placed, () => compaction.stopped).then((snapshot) => {
      if (!snapshot) return void (this.#compaction = undefined);
      compaction.snapshot = snapshot;
      this.#host.wake();
    }, (err: unknown) => this.#failed(state, err));
    this.#compaction = compaction;
  }

  /**
   * Between batches, once `ready`: appends to the snapshot what was acknowledged since it was taken,
   * and renames it over the journal. Writes wait only for this copy of recent records, an fsync and a
   * rename. Never throws: a failure is reported and the journal kept.
   */
  async swap(state: S): Promise<void> {
    const compaction = this.#compaction;
    const snapshot = compaction?.snapshot;
    if (!compaction || !snapshot) return;
    this.#compaction = undefined;
    const tail = snapshot.size;
    try {
      const journal = await this.#host.journal(state);
      await copyTail(snapshot, journal, compaction.mark, state.size, state.records - compaction.records);
      await installSnapshot(snapshot, this.#host.path);
    } catch (err) {
      await discardSnapshot(snapshot);
      return this.#failed(state, err);
    }
    state.live.rebase(compaction.frozen, compaction.placed, compaction.mark, tail - compaction.mark);
    Object.assign(state, { size: snapshot.size, records: snapshot.records });
    await this.#host.release(); // the next write opens the new file
  }

  /** Abandons a compaction still writing its snapshot, and waits until it has let go of its file. */
  async stop(): Promise<void> {
    if (this.#compaction) this.#compaction.stopped = true;
    await this.#compaction?.writing;
  }

  #failed(state: S, err: unknown): void {
    this.#compaction = undefined;
    this.#compactAfter = state.records + 2 * state.live.size + this.#slack; // not again on every write
    this.#host.warn(`rule file ${this.#host.path}: compaction failed, the journal is kept as it is (${(err as Error).message})`);
  }
}
