// A RuleStore around a real store (MemoryStore, FileStore) that changes only what becomes of each call,
// never its order: every write and counter save reaches the real store at its call, or not at all.
// `saveCounters` may fail (nothing recorded), answer "outcome unknown" after the real store recorded the
// batch or without it, and answer late; `put` and `delete` may fail (nothing written) or answer late.
import { type CounterDelta, type RuleJSON, type RuleStore, type StoreChange, StoreOutcomeUnknownError } from '../../src/index.js';
import { turns } from './latent-store.js';

/** What becomes of one `saveCounters` call. */
export type SaveOutcome = 'ok' | 'fail' | 'unknown-applied' | 'unknown-lost';

export interface SavePlan {
  readonly outcome: SaveOutcome;
  /** Turns of the event loop before the answer. */
  readonly turns: number;
}

export interface WritePlan {
  readonly fail: boolean;
  readonly turns: number;
}

/** One `saveCounters` call as it ended: its deltas, and whether the real store recorded them. */
export interface SaveCall {
  readonly deltas: readonly CounterDelta[];
  readonly outcome: SaveOutcome;
}

export class ScriptedStore implements RuleStore {
  readonly saves: SaveCall[] = [];
  savePlan: (n: number) => SavePlan = () => ({ outcome: 'ok', turns: 0 });
  writePlan: (n: number) => WritePlan = () => ({ fail: false, turns: 0 });
  #writes = 0;
  readonly description: string | undefined;
  readonly watch: RuleStore['watch'];

  constructor(readonly inner: RuleStore) {
    this.description = inner.description;
    // Passed through only when the real store has it: a FileStore reports nothing.
    this.watch = inner.watch ? (listener: (change: StoreChange) => void, onError?: (err: Error) => void) => inner.watch!(listener, onError) : undefined;
  }

  load(): Promise<RuleJSON[]> {
    return this.inner.load();
  }

  put(rule: RuleJSON): Promise<number | void> {
    return this.#write(() => this.inner.put(rule));
  }

  delete(ids: readonly string[]): Promise<number | void> {
    return this.#write(() => this.inner.delete(ids));
  }

  clear(): Promise<number | void> {
    return this.#write(() => this.inner.clear());
  }

  async saveCounters(deltas: readonly CounterDelta[]): Promise<void> {
    const { outcome, turns: wait } = this.savePlan(this.saves.length);
    this.saves.push({ deltas: [...deltas], outcome });
    // Recorded at the call (or never), so the real store sees the calls in call order.
    const recorded = outcome === 'ok' || outcome === 'unknown-applied' ? this.inner.saveCounters!(deltas) : undefined;
    await recorded;
    await turns(wait);
    if (outcome === 'fail') throw new Error('disk full (saving counters)');
    if (outcome !== 'ok') throw new StoreOutcomeUnknownError('saving counters: no answer in time');
  }

  async close(): Promise<void> {
    await this.inner.close();
  }

  async #write<T>(apply: () => Promise<T>): Promise<T> {
    const { fail, turns: wait } = this.writePlan(this.#writes++);
    const done = fail ? undefined : apply();
    const value = await done;
    await turns(wait);
    if (done === undefined) throw new Error('disk full (writing a rule)');
    return value as T;
  }
}
