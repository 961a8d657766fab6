// A RuleStore around a real MemoryStore that applies each write in call order (as the RuleStore contract
// asks) but answers it when its plan says: later, out of order, or with a failure (then it changed
// nothing). Reports of the shared store reach this view as they happen, or late.
import { MemoryStore, type RuleJSON, type RuleStore, type StoreChange } from '../../src/index.js';

/** What becomes of one write: whether it fails, and when its answer arrives. */
export interface WritePlan {
  fail: boolean;
  /** Resolves when the answer may be delivered. */
  answer: Promise<void>;
}

export type Planner = (call: { readonly op: 'put' | 'delete' | 'clear'; readonly n: number }) => WritePlan;

/** Waits `n` turns of the event loop (setImmediate): a delay without timers. */
export async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

export class LatentStore implements RuleStore {
  /** Writes made, in call order. */
  calls = 0;

  constructor(readonly inner: MemoryStore, readonly plan: Planner, readonly reportTurns = 0) {}

  load(): Promise<RuleJSON[]> {
    return this.inner.load();
  }

  put(rule: RuleJSON): Promise<number> {
    return this.#write('put', () => this.inner.put(rule));
  }

  delete(ids: readonly string[]): Promise<number> {
    return this.#write('delete', () => this.inner.delete(ids));
  }

  clear(): Promise<number> {
    return this.#write('clear', () => this.inner.clear());
  }

  watch(listener: (change: StoreChange) => void): () => void {
    const late = this.reportTurns;
    return this.inner.watch(late > 0 ? (change) => void turns(late).then(() => listener(change)) : listener);
  }

  reserve(id: string, wanted: number, used: number, revision: string): Promise<number> {
    return this.inner.reserve(id, wanted, used, revision);
  }

  release(id: string, unused: number, revision: string): Promise<void> {
    return this.inner.release(id, unused, revision);
  }

  async close(): Promise<void> {}

  async #write(op: 'put' | 'delete' | 'clear', apply: () => Promise<number>): Promise<number> {
    const n = this.calls++;
    const { fail, answer } = this.plan({ op, n });
    // Applied now, at the call, so the shared store has the calls in call order; answered later.
    const version = fail ? undefined : apply();
    await answer;
    if (version === undefined) throw new Error(`disk full (${op} #${n})`);
    return version;
  }
}
