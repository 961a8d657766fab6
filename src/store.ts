/**
 * Where rules live beyond one process: the `RuleStore` interface the engine persists through, and
 * `MemoryStore`, the in-process implementation (also a way to share rules between interceptors of one
 * process). Durable and clustered stores are adapters: `smtp-intercept/stores/file`,
 * `smtp-intercept/stores/redis`.
 */
import { EventEmitter } from 'eventemitter3';
import { SmtpInterceptError } from './errors.js';
import type { RuleJSON } from './rule.js';

/** A change a store reports to its watchers: one rule written or removed, or the whole set re-read. */
export type StoreChange =
  | { readonly type: 'put'; readonly rule: RuleJSON }
  | { readonly type: 'delete'; readonly id: string; readonly reason?: 'exhausted' }
  | { readonly type: 'reset'; readonly rules: readonly RuleJSON[] };

/**
 * Persistence of rules in their JSON form. Every method resolves only once the change is durable in
 * the store's sense; a rejection means nothing changed. Stores are written through the engine only:
 * `Interceptor` validates every rule it loads or hears about.
 */
export interface RuleStore {
  /**
   * Every stored rule. The engine calls `watch` first and then `load`, so a watched store's `load`
   * resolves only once the watch follows changes: every change made after the snapshot is reported
   * after `load` resolves (or during it: the engine applies what it hears during a load after the
   * snapshot, in the order heard). A store must not report, after `load` resolves, a change its
   * snapshot already supersedes.
   */
  load(): Promise<RuleJSON[]>;
  /** Writes a rule (replacing the one with its id). */
  put(rule: RuleJSON): Promise<void>;
  /** Removes rules by id; absent ids are ignored. */
  delete(ids: readonly string[]): Promise<void>;
  /** Removes every rule. */
  clear(): Promise<void>;
  /**
   * Reports changes to the stored set (including the caller's own; the engine ignores echoes), in the
   * order they were made. A `reset` carries the whole set, after a reconnect or a detected gap: a store
   * repairs a missed change by itself, without waiting for a later one. `onError` hears about lost
   * connections and the like while nothing is awaited. Returns the unsubscribe function. See `load`
   * for when the watch must follow changes.
   */
  watch?(listener: (change: StoreChange) => void, onError?: (err: Error) => void): () => void;
  /**
   * For cluster-wide `times` budgets. Atomically records `used` applications of rule `id` made since
   * the caller's last call, then takes up to `wanted` more from the shared budget, resolving to how many
   * were granted (0 when none are left). When the recorded uses reach the rule's `times`, the store
   * removes the rule and reports a `delete` with reason `exhausted`.
   */
  reserve?(id: string, wanted: number, used: number): Promise<number>;
  /** Gives back unused applications of a reservation (on close). */
  release?(id: string, unused: number): Promise<void>;
  /** Releases connections and timers. */
  close(): Promise<void>;
}

/** A store could not make a change (unreachable, failed write). The engine's rule set is unchanged. */
export class StoreUnavailableError extends SmtpInterceptError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('store_unavailable', message, options);
    this.name = 'StoreUnavailableError';
  }
}

/**
 * Rules in process memory. Several interceptors sharing one `MemoryStore` see each other's changes,
 * like instances sharing a Redis store.
 *
 * @example
 * ```ts
 * const shared = new MemoryStore()
 * const a = new Interceptor({ clusterStore: shared }), b = new Interceptor({ clusterStore: shared })
 * await a.ready(); await b.ready()
 * await a.add({ domain: 'gmail.com', code: 421, cluster: true }) // b.check(...) sees it
 * ```
 */
export class MemoryStore implements RuleStore {
  readonly #rules = new Map<string, RuleJSON>();
  readonly #budgets = new Map<string, { left: number; used: number; times: number }>();
  readonly #events = new EventEmitter<{ change: (change: StoreChange) => void }>();

  async load(): Promise<RuleJSON[]> {
    return [...this.#rules.values()];
  }

  async put(rule: RuleJSON): Promise<void> {
    const frozen = Object.freeze({ ...rule });
    this.#rules.set(rule.id, frozen);
    if (rule.times === undefined) this.#budgets.delete(rule.id);
    else this.#budgets.set(rule.id, { left: rule.times, used: 0, times: rule.times });
    this.#events.emit('change', { type: 'put', rule: frozen });
  }

  async delete(ids: readonly string[]): Promise<void> {
    for (const id of ids) {
      this.#budgets.delete(id);
      if (this.#rules.delete(id)) this.#events.emit('change', { type: 'delete', id });
    }
  }

  async clear(): Promise<void> {
    this.#rules.clear();
    this.#budgets.clear();
    this.#events.emit('change', { type: 'reset', rules: [] });
  }

  watch(listener: (change: StoreChange) => void): () => void {
    this.#events.on('change', listener);
    return () => this.#events.off('change', listener);
  }

  async reserve(id: string, wanted: number, used: number): Promise<number> {
    const budget = this.#budgets.get(id);
    if (!budget) return 0;
    budget.used += used;
    if (budget.used >= budget.times) {
      this.#budgets.delete(id);
      if (this.#rules.delete(id)) this.#events.emit('change', { type: 'delete', id, reason: 'exhausted' });
      return 0;
    }
    const granted = Math.min(budget.left, wanted);
    budget.left -= granted;
    return granted;
  }

  async release(id: string, unused: number): Promise<void> {
    const budget = this.#budgets.get(id);
    if (budget && unused > 0) budget.left += unused;
  }

  async close(): Promise<void> {
    this.#events.removeAllListeners();
  }
}
