/**
 * Expiry of an interceptor's rules: the queue of rules by `expires`, the sweep that removes those due,
 * and one unref'd timer armed for the earliest, so expired rules leave even when nothing checks.
 */
import { ExpiryQueue } from './expiry-queue.js';
import type { Rule } from './rule.js';

/** setTimeout's maximum; longer expiries are re-armed when the timer fires. */
export const MAX_TIMER_MS = 2_147_483_647;

/** What the expiry timer asks of the interceptor's rule set. */
export interface ExpiryHost {
  now(): number;
  /** Whether `rule` is the installed rule of its id (queue entries of replaced rules are stale). */
  current(rule: Rule): boolean;
  /** Removes the installed, expired `rule`. */
  expire(rule: Rule): void;
  /** Number of installed rules. */
  size(): number;
}

/** The rules that expire, swept on `check` (one comparison while none is due) and by the timer. */
export class ExpiryTimer {
  readonly #queue = new ExpiryQueue();
  readonly #host: ExpiryHost;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(host: ExpiryHost) {
    this.#host = host;
  }

  /** The earliest expiry queued (`Infinity` when none). */
  get next(): number {
    return this.#queue.next;
  }

  /** Queues a rule that has `expires`. */
  push(rule: Rule): void {
    this.#queue.push(rule);
  }

  clear(): void {
    this.#queue.clear();
  }

  /** Removes every installed rule whose expiry has come. */
  sweep(): void {
    const host = this.#host;
    const now = host.now();
    while (this.#queue.next <= now) {
      const rule = this.#queue.pop()!;
      // Entries of rules since removed or replaced are stale: only the current rule object expires.
      if (host.current(rule)) host.expire(rule);
    }
    // Stale entries are kept until they surface; compact when they outnumber the live ones.
    if (this.#queue.size > 64 && this.#queue.size > 2 * host.size()) this.#queue.retain((r) => host.current(r));
  }

  /** (Re)arms the timer for the earliest expiry, unless stopped or none is queued. */
  arm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#stopped || this.#queue.size === 0) return;
    const wait = Math.min(Math.max(this.#queue.next - this.#host.now(), 0), MAX_TIMER_MS);
    this.#timer = setTimeout(() => {
      this.sweep();
      this.arm();
    }, wait);
    this.#timer.unref();
  }

  /** Stops the timer for good (the interceptor closed); `check` still sweeps. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
