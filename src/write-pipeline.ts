/**
 * The order of an interceptor's mutations (`add`, `remove`, `clear`, background removals) with several
 * store writes in flight, so that concurrent mutations can share a store's fsync (group commit).
 *
 * Each mutation has two steps, each run in call order:
 * - **issue**: computes what to write from the index *and the mutations still in flight* (the rule an
 *   `add` replaces may be one still being written) and sends its store calls at once. Stores apply calls
 *   in the order they are made (`RuleStore`), so the stores see the mutations in call order, without
 *   waiting for one another.
 * - **apply**: once its writes resolved and every earlier mutation applied or failed, changes the index
 *   (and emits its events) from the index as it is then, exactly as a one-at-a-time engine would. A
 *   rejected write applies nothing and rejects that call only.
 *
 * Memory and store never diverge because every issued write is one whose effect on the store equals its
 * mutation's effect on the index, *whichever* of the earlier writes in flight fail: a write is planned
 * for every outcome of those (a `remove` of a rule whose `add` is in flight is sent, and is a no-op in
 * the store if the add failed; a `clear` deletes the ids of adds in flight too). The one thing an issue
 * cannot take back is data written into the rule itself: an `add` keeps `created` of the rule it
 * replaces at issue, even when that rule's own write then fails.
 */
import type { Rule } from './rule.js';

/** One mutation as issued: its store writes are sent; `apply` changes the index once they resolved. */
export interface Issued<T> {
  /** Resolves once the mutation's store writes are durable; absent when there is nothing to write. */
  readonly written?: Promise<unknown>;
  /** Rules of the ids the mutation writes, with the rule each id holds after it (`undefined`: removed). */
  readonly touches?: readonly { readonly rule: Rule; readonly expected: Rule | undefined }[];
  /** For a `clear`: which rules it removes. */
  readonly clears?: (rule: Rule) => boolean;
  /** Runs when every earlier mutation applied or failed (before this one's writes resolve, or after). */
  turn?(): void;
  /** Changes the index: after `written` resolved and every earlier mutation applied or failed. */
  apply(): T;
  /** Runs once the mutation applied or failed. */
  settled?(): void;
}

/** The mutations in flight on one rule id. */
interface Touch {
  /** A rule with this id (for its scope). */
  rule: Rule;
  /** What the id holds once they all apply. */
  expected: Rule | undefined;
  /** Sequence number of the last of them. */
  seq: number;
  /** How many are in flight. */
  count: number;
  /** Settles once the last of them applied or failed. */
  done: Promise<void>;
}

const ignore = (): void => undefined;

/** Issues mutations in call order without waiting for earlier writes, and applies them in call order (internal). */
export class WritePipeline {
  readonly #ready: () => Promise<void>;
  #issued: Promise<unknown> = Promise.resolve();
  #applied: Promise<void> = Promise.resolve();
  #seq = 0;
  /** Ids written by mutations in flight: bounded by the mutations in flight. */
  readonly #touched = new Map<string, Touch>();
  /** Clears in flight, by sequence number. */
  readonly #clears = new Map<number, (rule: Rule) => boolean>();

  /** `ready` runs before each issue: no mutation is computed from a rule set not loaded yet. */
  constructor(ready: () => Promise<void>) {
    this.#ready = ready;
  }

  /**
   * Runs a mutation: `issue` (in call order, once ready) sends its writes; its `apply` runs in call
   * order once they resolved. Rejects when `issue` throws (nothing was sent) or a write rejects
   * (nothing applied; `writeFailed` hears of it first).
   */
  run<T>(issue: () => Issued<T>, writeFailed?: (err: unknown) => void): Promise<Awaited<T>> {
    const seq = ++this.#seq;
    const issued = this.#issued.then(async () => {
      await this.#ready();
      const op = issue();
      op.written?.catch(ignore); // awaited at its turn: not an unhandled rejection meanwhile
      this.#register(seq, op, done);
      return op;
    });
    this.#issued = issued.catch(ignore);
    const applied = this.#applied.then(async () => {
      const op = await issued;
      try {
        op.turn?.();
        await op.written?.catch((err: unknown) => {
          writeFailed?.(err);
          throw err;
        });
        // Boxed: a promise `apply` returns (an add's reservation) is the caller's to wait for, not the pipeline's.
        return { value: op.apply() };
      } finally {
        this.#unregister(seq, op);
        op.settled?.();
      }
    });
    const done = applied.then(ignore, ignore);
    this.#applied = done;
    return applied.then((box) => box.value) as Promise<Awaited<T>>;
  }

  /**
   * The rule `id` holds once the mutations in flight apply, given `current`, the rule it holds now
   * (the index's): the last in-flight write of it, unless a clear in flight after that covers it.
   */
  expected(id: string, current: Rule | undefined): Rule | undefined {
    const touch = this.#touched.get(id);
    const rule = touch ? touch.expected : current;
    if (rule === undefined) return undefined;
    for (const [seq, clears] of this.#clears) if (seq > (touch?.seq ?? 0) && clears(rule)) return undefined;
    return rule;
  }

  /** Whether no mutation in flight writes `id` or clears `current` (the rule it holds now). */
  quiet(id: string, current: Rule | undefined): boolean {
    return !this.#touched.has(id) && this.expected(id, current) === current;
  }

  /** A rule of `id` that a mutation in flight writes, or `undefined` when none does. */
  touching(id: string): Rule | undefined {
    return this.#touched.get(id)?.rule;
  }

  /** Rules written by mutations in flight (one per id). */
  *inFlight(): IterableIterator<Rule> {
    for (const touch of this.#touched.values()) yield touch.rule;
  }

  /** Settles once the mutations in flight on `id` applied or failed; `undefined` when there are none. */
  settledOn(id: string): Promise<void> | undefined {
    return this.#touched.get(id)?.done;
  }

  /** Resolves once every mutation issued so far, and any issued meanwhile, applied or failed. */
  async idle(): Promise<void> {
    for (let tail = this.#applied; ; tail = this.#applied) {
      await tail;
      if (tail === this.#applied) return;
    }
  }

  #register(seq: number, op: Issued<unknown>, done: Promise<void>): void {
    for (const { rule, expected } of op.touches ?? []) {
      const touch = this.#touched.get(rule.id);
      if (touch) Object.assign(touch, { expected, seq, done, count: touch.count + 1 });
      else this.#touched.set(rule.id, { rule, expected, seq, count: 1, done });
    }
    if (op.clears) this.#clears.set(seq, op.clears);
  }

  #unregister(seq: number, op: Issued<unknown>): void {
    for (const { rule } of op.touches ?? []) {
      const touch = this.#touched.get(rule.id);
      if (touch && --touch.count === 0) this.#touched.delete(rule.id);
    }
    this.#clears.delete(seq);
  }
}
