/**
 * Where rules live beyond one process: the `RuleStore` interface the engine persists through, and
 * `MemoryStore`, the in-process implementation (also a way to share rules between interceptors of one
 * process). Durable and clustered stores are adapters: `smtp-intercept/stores/file`,
 * `smtp-intercept/stores/redis`.
 */
import { EventEmitter } from 'eventemitter3';
import { SmtpInterceptError } from './errors.js';
import type { RuleJSON } from './rule.js';

/**
 * A change a store reports to its watchers: one rule written or removed, or the whole set re-read.
 * `version` is the store's own order of changes: it grows with every change, is the same number the
 * write that made the change resolved to, and a `reset` carries the version of its snapshot.
 */
export type StoreChange =
  | { readonly type: 'put'; readonly rule: RuleJSON; readonly version: number }
  | { readonly type: 'delete'; readonly id: string; readonly reason?: 'exhausted'; readonly version: number }
  | { readonly type: 'reset'; readonly rules: readonly RuleJSON[]; readonly version: number };

/** What a rule counted since the engine last saved its counters (see `RuleStore.saveCounters`). */
export interface CounterDelta {
  /** The rule's id. */
  readonly id: string;
  /** The revision the counts belong to (the stored JSON's `revision`, `''` when absent). */
  readonly revision: string;
  /** Forced results since the last save. */
  readonly hits: number;
  /**
   * Applications of `times` since the last save: 0 for a rule without `times` and for a rule whose
   * `times` is a cluster budget (a store with `reserve` counts those through `reserve`).
   */
  readonly used: number;
}

/**
 * A stored rule with a counter delta applied (`hits` added, `used` taken from `times`), or `undefined`
 * when its `times` is used up (the store removes it). The caller checks the revision first. For store
 * authors implementing `RuleStore.saveCounters`.
 *
 * @example
 * ```ts
 * const next = withCounters(stored, delta)
 * if (next) rules.set(stored.id, next); else rules.delete(stored.id) // used up
 * ```
 */
export function withCounters(rule: RuleJSON, delta: CounterDelta): RuleJSON | undefined {
  if (rule.times === undefined) return { ...rule, hits: rule.hits + delta.hits };
  const times = rule.times - delta.used;
  return times > 0 ? { ...rule, hits: rule.hits + delta.hits, times } : undefined;
}

/**
 * Persistence of rules in their JSON form. Every method resolves only once the change is durable in
 * the store's sense; a rejection means nothing changed. Stores are written through the engine only:
 * `Interceptor` validates every rule it loads or hears about.
 *
 * A store applies `put`, `delete`, `clear` and `saveCounters` in the order they are called, whether or
 * not earlier calls have resolved: the engine sends the writes of concurrent mutations without waiting
 * for one another (so they may share one fsync), and counter saves while writes are in flight, and
 * relies on this order. Their promises may resolve in any order. (A store that queues its writes, sends
 * them on one connection, or applies them synchronously at the call has it.)
 *
 * A store that reports changes (`watch`) orders them: every write resolves to its version (a number
 * that grows with every change of the store), and every reported change carries the version of the
 * change it reports. A store may report a change before or after the write that made it resolves,
 * once or more than once; it reports changes in version order (a store that cannot reports a `reset`
 * instead). The engine recognises its own changes by these versions, never applies a change older
 * than one it already has for the same rule, and ignores a change reported twice.
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
  /** Writes a rule (replacing the one with its id); a watched store resolves to the change's version. */
  put(rule: RuleJSON): Promise<number | void>;
  /**
   * Removes rules by id; absent ids are ignored. A watched store resolves to a version at least that of
   * every removal it made (and at least its current version when it removed none).
   */
  delete(ids: readonly string[]): Promise<number | void>;
  /** Removes every rule; a watched store resolves to the version of the (reported) `reset`. */
  clear(): Promise<number | void>;
  /**
   * Reports changes to the stored set (including the caller's own; the engine ignores echoes), in the
   * order they were made. A `reset` carries the whole set, after a reconnect or a detected gap: a store
   * repairs a missed change by itself, without waiting for a later one. `onError` hears about lost
   * connections and the like while nothing is awaited. Returns the unsubscribe function. See `load`
   * for when the watch must follow changes.
   */
  watch?(listener: (change: StoreChange) => void, onError?: (err: Error) => void): () => void;
  /**
   * For cluster-wide `times` budgets. Every `put` of a rule with `times` starts a new budget for that
   * revision of the rule (its JSON's `revision`, `''` when absent). Atomically records `used`
   * applications of rule `id` made since the caller's last call, then takes up to `wanted` more from the
   * shared budget, resolving to how many were granted (0 when none are left). Both apply only when
   * `revision` is the stored one: uses and grants of another revision are never counted against this
   * one (0 is granted). When the recorded uses reach the rule's `times`, the store removes the rule and
   * reports a `delete` with reason `exhausted`.
   *
   * `request` (`<origin>.<n>`, `n` growing per origin) makes a call repeatable: a store that can lose an
   * answer (a network store) keeps each origin's last request with its grant and answers a repeat of it
   * with that grant, recording nothing again; an older request of the origin gets 0. The engine repeats
   * a request only after an unknown outcome (`StoreOutcomeUnknownError`).
   */
  reserve?(id: string, wanted: number, used: number, revision: string, request?: string): Promise<number>;
  /** Gives back unused applications of a reservation of `revision` (ignored for another revision). */
  release?(id: string, unused: number, revision: string): Promise<void>;
  /**
   * Persists rule counters in bulk. The engine calls it in batches (at most about once a second and
   * on `close()`), never on the `check` path. For each delta whose `revision` is the stored rule's,
   * adds `hits` to the stored `hits` and takes `used` from the stored `times`; a rule whose `times`
   * reaches 0 is used up and removed (a watched store reports a `delete` with reason `exhausted`).
   * Deltas of absent rules or of another revision are ignored. `load` gives back rules with the saved
   * counts. Resolves once durable; a rejection means nothing was recorded (the engine keeps the
   * deltas for its next attempt), except `StoreOutcomeUnknownError`: the batch may have been recorded,
   * so the engine never sends it again (its counts are saved at most once).
   *
   * An update's `put` carries in its JSON `hits` every hit counted so far, so counts of the revision it
   * replaces, saved after it in call order, are ignored rather than added to it.
   */
  saveCounters?(deltas: readonly CounterDelta[]): Promise<void>;
  /** How errors name this store (e.g. `rule file ./rules.json`): an invalid stored rule is reported with it. */
  readonly description?: string;
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
 * A write was sent to the store but its outcome is unknown (no answer in time, or the connection was
 * lost before the answer): it may have been applied, and if so every instance hears of it as a change.
 * Retrying is safe: `add` and `remove` name rules by selector, so a repeat changes nothing more. Its
 * `code` stays `store_unavailable` (the REST API answers 503, which clients retry).
 *
 * @example
 * ```ts
 * try { await ic.add(rule) } catch (err) {
 *   if (err instanceof StoreOutcomeUnknownError) await ic.add(rule) // safe: same selector, same rule
 * }
 * ```
 */
export class StoreOutcomeUnknownError extends StoreUnavailableError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreOutcomeUnknownError';
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
  readonly #budgets = new Map<string, { left: number; used: number; times: number; revision: string }>();
  readonly #events = new EventEmitter<{ change: (change: StoreChange) => void }>();
  #version = 0;

  async load(): Promise<RuleJSON[]> {
    return [...this.#rules.values()];
  }

  async put(rule: RuleJSON): Promise<number> {
    const frozen = Object.freeze({ ...rule });
    this.#rules.set(rule.id, frozen);
    if (rule.times === undefined) this.#budgets.delete(rule.id);
    else this.#budgets.set(rule.id, { left: rule.times, used: 0, times: rule.times, revision: rule.revision ?? '' });
    this.#events.emit('change', { type: 'put', rule: frozen, version: ++this.#version });
    return this.#version;
  }

  async delete(ids: readonly string[]): Promise<number> {
    for (const id of ids) {
      this.#budgets.delete(id);
      if (this.#rules.delete(id)) this.#events.emit('change', { type: 'delete', id, version: ++this.#version });
    }
    return this.#version;
  }

  async clear(): Promise<number> {
    this.#rules.clear();
    this.#budgets.clear();
    this.#events.emit('change', { type: 'reset', rules: [], version: ++this.#version });
    return this.#version;
  }

  watch(listener: (change: StoreChange) => void): () => void {
    this.#events.on('change', listener);
    return () => this.#events.off('change', listener);
  }

  async reserve(id: string, wanted: number, used: number, revision: string): Promise<number> {
    const budget = this.#budgets.get(id);
    if (!budget || budget.revision !== revision) return 0;
    budget.used += used;
    if (budget.used >= budget.times) {
      this.#budgets.delete(id);
      if (this.#rules.delete(id)) this.#events.emit('change', { type: 'delete', id, reason: 'exhausted', version: ++this.#version });
      return 0;
    }
    const granted = Math.min(budget.left, wanted);
    budget.left -= granted;
    return granted;
  }

  async release(id: string, unused: number, revision: string): Promise<void> {
    const budget = this.#budgets.get(id);
    if (budget && budget.revision === revision && unused > 0) budget.left += unused;
  }

  async saveCounters(deltas: readonly CounterDelta[]): Promise<void> {
    for (const delta of deltas) {
      const rule = this.#rules.get(delta.id);
      if (!rule || (rule.revision ?? '') !== delta.revision) continue;
      const counted = withCounters(rule, delta);
      if (counted) {
        // Counters are not changes of the rule: no version, no report (a reload shows them).
        this.#rules.set(delta.id, Object.freeze(counted));
      } else {
        this.#budgets.delete(delta.id);
        this.#rules.delete(delta.id);
        this.#events.emit('change', { type: 'delete', id: delta.id, reason: 'exhausted', version: ++this.#version });
      }
    }
  }

  async close(): Promise<void> {
    this.#events.removeAllListeners();
  }
}
