// A RuleStore around a real MemoryStore that changes only *when* things happen: reports changes late
// or twice, answers reservations late, writes slowly. Every order it produces is one the RuleStore
// contract allows, so the engine must be correct under each.
import { MemoryStore, type RuleJSON, type RuleStore, type StoreChange } from '../../src/index.js';

export interface Timing {
  /** Report each change this many ms after the store made it (after the write resolved). */
  reportDelayMs?: number;
  /** Report every change twice. */
  twice?: boolean;
  /** Deliver the answer of `reserve` this many ms after the store granted it. */
  reserveReplyDelayMs?: number;
  /** Resolve `put` this many ms after the store made the change. */
  putDelayMs?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One instance's view of a shared `MemoryStore`, with its own timing. */
export class WrappedStore implements RuleStore {
  /** Answers of `reserve` delivered so far, and the releases made (for waiting on them in tests). */
  answered = 0;
  released = 0;

  constructor(readonly inner: MemoryStore, readonly timing: Timing = {}) {}

  load(): Promise<RuleJSON[]> {
    return this.inner.load();
  }

  async put(rule: RuleJSON): Promise<number> {
    const version = await this.inner.put(rule);
    if (this.timing.putDelayMs) await sleep(this.timing.putDelayMs);
    return version;
  }

  delete(ids: readonly string[]): Promise<number> {
    return this.inner.delete(ids);
  }

  clear(): Promise<number> {
    return this.inner.clear();
  }

  watch(listener: (change: StoreChange) => void): () => void {
    const { reportDelayMs, twice } = this.timing;
    const report = (change: StoreChange) => {
      listener(change);
      if (twice) listener(change);
    };
    return this.inner.watch(reportDelayMs ? (change) => void setTimeout(() => report(change), reportDelayMs) : report);
  }

  async reserve(id: string, wanted: number, used: number, revision: string): Promise<number> {
    const granted = await this.inner.reserve(id, wanted, used, revision);
    if (this.timing.reserveReplyDelayMs) await sleep(this.timing.reserveReplyDelayMs);
    this.answered++;
    return granted;
  }

  async release(id: string, unused: number, revision: string): Promise<void> {
    await this.inner.release(id, unused, revision);
    this.released++;
  }

  async close(): Promise<void> {}
}
