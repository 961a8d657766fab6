/**
 * `record(interceptor)`: evidence for test assertions. Records every checked attempt with its outcome,
 * whoever checked it (your code, the nodemailer adapter, the fake MX).
 */
import { AssertionError } from 'node:assert';
import type { Attempt, ForcedResult, Interceptor } from '../index.js';

/** One checked attempt. */
export interface RecordedAttempt {
  /** The attempt as checked (a copy: later changes to the caller's object do not show). */
  readonly attempt: Attempt;
  /** The forced result, or `undefined` when the attempt passed through. */
  readonly result: ForcedResult | undefined;
  /** Whether a rule forced the result. */
  readonly forced: boolean;
  /** Id of the rule that forced it. */
  readonly ruleId: string | undefined;
  /** Epoch milliseconds of the check. */
  readonly at: number;
}

/** Options of {@link Recorder.waitFor}. */
export interface WaitOptions {
  /** Milliseconds before the wait fails. @default 5000 */
  timeout?: number;
}

/** The recorder returned by {@link record}. */
export class Recorder {
  readonly #interceptor: Interceptor;
  readonly #log: RecordedAttempt[] = [];
  readonly #waiters = new Set<() => void>();
  #stop: (() => void) | undefined;

  /** @internal Use {@link record}. */
  constructor(interceptor: Interceptor) {
    this.#interceptor = interceptor;
    this.#stop = interceptor.observe((attempt, result) => {
      const tags = attempt.tags;
      this.#log.push(Object.freeze({
        attempt: Object.freeze({ ...attempt, ...(Array.isArray(tags) ? { tags: Object.freeze([...tags]) } : {}) }),
        result,
        forced: result !== undefined,
        ruleId: result?.rule.id,
        at: Date.now(),
      }));
      for (const wake of this.#waiters) wake();
    });
  }

  /** Every recorded attempt, oldest first. */
  get attempts(): readonly RecordedAttempt[] {
    return [...this.#log];
  }

  /** The attempts a rule forced. */
  get forced(): readonly RecordedAttempt[] {
    return this.#log.filter((a) => a.forced);
  }

  /** The attempts forced by the rule with this id. */
  byRule(id: string): readonly RecordedAttempt[] {
    return this.#log.filter((a) => a.ruleId === id);
  }

  /**
   * Resolves with the first recorded attempt (already recorded or future) that satisfies `predicate`;
   * rejects after `timeout` ms with an error listing what was recorded.
   */
  waitFor(predicate: (attempt: RecordedAttempt) => boolean, options: WaitOptions = {}): Promise<RecordedAttempt> {
    const { timeout = 5000 } = options;
    const found = this.#log.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const wake = () => {
        const hit = this.#log.find(predicate);
        if (!hit) return;
        this.#waiters.delete(wake);
        clearTimeout(timer);
        resolve(hit);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(wake);
        reject(new AssertionError({ message: `no recorded attempt matched within ${timeout} ms; recorded: ${this.#describe()}` }));
      }, timeout);
      this.#waiters.add(wake);
    });
  }

  /** Forgets what was recorded so far (recording continues). */
  reset(): void {
    this.#log.length = 0;
  }

  /** Stops recording; what was recorded stays readable. */
  stop(): void {
    this.#stop?.();
    this.#stop = undefined;
  }

  /**
   * Throws an `AssertionError` if any rule with `times` is still active, i.e. was not used up: the test
   * expected N forced results and the application made fewer attempts.
   */
  assertAllConsumed(): void {
    const left = this.#interceptor.list().filter((r) => r.times !== undefined && r.times > 0);
    if (left.length === 0) return;
    const lines = left.map((r) => `  ${JSON.stringify(r.toJSON())}: ${r.times} of its applications left, ${r.hits} used`);
    throw new AssertionError({ message: `${left.length} rule(s) with times were not used up:\n${lines.join('\n')}` });
  }

  #describe(): string {
    if (this.#log.length === 0) return 'nothing';
    return this.#log.slice(-10).map((a) => `${JSON.stringify(a.attempt)} -> ${a.result?.reply ?? 'passed'}`).join('; ');
  }
}

/**
 * Starts recording every attempt `interceptor` checks.
 *
 * @example
 * ```ts
 * const rec = record(ic)
 * await ic.add({ domain: 'gmail.com', code: 421, times: 2 })
 * await sendWithRetries(app)                       // the code under test
 * assert.equal(rec.forced.length, 2)
 * rec.assertAllConsumed()
 * ```
 */
export function record(interceptor: Interceptor): Recorder {
  return new Recorder(interceptor);
}
