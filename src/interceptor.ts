/**
 * The engine a delivery worker calls: rule management (async, so stores can make changes durable before
 * they resolve) and the synchronous `check` hot path.
 */
import { EventEmitter } from 'eventemitter3';
import { AttemptCache } from './attempt-cache.js';
import { CounterFlush } from './counter-flush.js';
import { checkChannel, publishStoreError } from './diagnostics.js';
import { type Attempt, normalizeAttempt } from './attempt.js';
import { SmtpInterceptError } from './errors.js';
import { ExpiryTimer } from './expiry-timer.js';
import { resolveOptions } from './interceptor-options.js';
import { GateState } from './gate-state.js';
import { Persistence } from './persistence.js';
import { type ForcedResult, forcedResult } from './result.js';
import type { RuleFilter } from './rule-filter.js';
import type { PageOptions, RulePage } from './rule-page.js';
import { RuleIndex } from './rule-index.js';
import { parseRuleInput, type RuleInput } from './rule-input.js';
import type { Rule } from './rule.js';
import { RuleChanges } from './rule-changes.js';
import { RuleMutations } from './rule-mutations.js';
import { explainAttempt, isLive, listRulePage, listRules } from './rule-queries.js';
import { ruleId } from './rule-id.js';
import { listenerFailed, notify, report } from './safe-events.js';
import type { Explanation, InterceptorEvents, InterceptorOptions, Scope } from './interceptor-types.js';

const NO_RULES: readonly Rule[] = Object.freeze([]);

/**
 * A forced-error rule engine.
 *
 * @example
 * ```ts
 * const ic = new Interceptor()
 * await ic.add({ domain: 'gmail.com', code: 421, description: 'forced deferring' })
 * ic.check({ recipient: 'bob@gmail.com' })?.reply // "421 4.0.0 forced deferring"
 * ```
 */
export class Interceptor extends EventEmitter<InterceptorEvents> {
  readonly #index = new RuleIndex();
  readonly #expiry = new ExpiryTimer({
    now: () => this.#now(),
    current: (rule) => this.#index.get(rule.id) === rule,
    expire: (rule) => this.#mutations.lapsed(rule, 'expired'),
    size: () => this.#index.size,
  });
  readonly #cache: AttemptCache | undefined;
  /** Installs and removals with their effects (cache, expiry, budgets, counters) and events. */
  readonly #changes: RuleChanges;
  /** `add`, `remove`, `clear` and lapsed rules: written to the stores, then applied through `#changes`. */
  readonly #mutations: RuleMutations;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #persistence: Persistence;
  readonly #counters: CounterFlush;
  /** Made on the first greylisting or rate-limited check: lru-cache preallocates arrays of `stateSize`. */
  #gates: GateState | undefined;
  readonly #stateSize: number;
  readonly #observers = new Set<(attempt: Attempt, result: ForcedResult | undefined) => void>();
  /** A plain field, read on every check (cheaper than the Set's size getter). */
  #observed = false;
  #closed = false;
  /** Stores are configured and not loaded yet: `check` would answer from a rule set that is not there. */
  #unready: boolean;

  constructor(options: InterceptorOptions = {}) {
    super();
    const { cacheSize, now, random, stateSize, counterFlushMs } = resolveOptions(options);
    const { store, clusterStore } = options;
    this.#cache = cacheSize > 0 ? new AttemptCache(cacheSize) : undefined;
    this.#now = now;
    this.#stateSize = stateSize;
    this.#random = random;
    this.#unready = store !== undefined || clusterStore !== undefined;
    this.#changes = new RuleChanges({
      emitter: this, index: this.#index, expiry: this.#expiry, cache: this.#cache, gates: () => this.#gates,
      retired: (rule) => this.#persistence.budgets.retired(rule),
      replaced: (previous, rule) => this.#counters.replaced(previous, rule),
    });
    this.#persistence = new Persistence({
      now: this.#now,
      get: (id) => this.#index.get(id),
      rules: () => this.#index.values(),
      install: (rule) => this.#changes.install(rule),
      installAll: (rules) => this.#changes.installAll(rules),
      uninstall: (id, reason) => this.#changes.delete(id, reason),
      error: (err) => { publishStoreError(this, 'background', err); report(this, err); },
      ready: () => this.ready(),
    }, store, clusterStore);
    this.#counters = new CounterFlush(this.#persistence, (rule) => this.#index.get(rule.id) === rule, counterFlushMs);
    this.#mutations = new RuleMutations({
      interceptor: this, now, index: this.#index, persistence: this.#persistence, counters: this.#counters, changes: this.#changes,
    });
  }

  /**
   * Loads the stores' rules and starts following their changes; resolves once both are done, so any
   * change acknowledged to any instance afterwards reaches this one. Call it before the first `check`
   * when stores are configured (`check` throws `not_ready` until then); mutations wait for it
   * themselves. Rejects with a clear error when a store cannot be read or holds an invalid rule.
   */
  async ready(): Promise<void> {
    await this.#persistence.ready();
    this.#unready = false;
  }

  /** Number of active rules. */
  get size(): number {
    return this.#index.size;
  }

  /**
   * Adds a rule, or updates the rule with the same selector (same `id`; `created` and `hits` kept).
   * Resolves once the rule is usable here: stored, installed and, for a cluster rule with `times` on a
   * cluster store, holding its first reservation (unless the store refused or failed it; then a `check`
   * passes the rule over until a later reservation succeeds).
   * @throws {ValidationError} listing every problem of the input.
   */
  async add(input: RuleInput): Promise<Rule> {
    this.#assertOpen();
    return this.#mutations.add(input);
  }

  /**
   * Removes a rule, named by its id or by a selector in the input format of `add` (`code` and the other
   * reply fields are ignored). Resolves to the removed rule, or `undefined` when there was none.
   */
  async remove(selector: RuleInput | string): Promise<Rule | undefined> {
    this.#assertOpen();
    return this.#mutations.remove(typeof selector === 'string' ? selector : this.idOf(selector));
  }

  /**
   * The id a rule with this input's selector has (whether or not it exists): ids are derived from the
   * selector, so every instance computes the same one. Reply fields are validated but ignored.
   * @throws {ValidationError} for a bad input.
   */
  idOf(input: RuleInput): string {
    return ruleId(parseRuleInput(input, this.#now(), false));
  }

  /** The active rule with this id. */
  get(id: string): Rule | undefined {
    const rule = this.#index.get(id);
    return rule && isLive(rule, this.#now()) ? rule : undefined;
  }

  /**
   * Active rules in insertion order (an update keeps its place), optionally filtered. A filter is
   * answered from the listing index: its cost follows the rules that have the rarest named value, not
   * the rule set.
   * @throws {ValidationError} for a bad filter.
   */
  list(filter?: RuleFilter): Rule[] {
    return listRules(this.#index, filter, this.#now());
  }

  /**
   * One page of the active rules, optionally filtered, in id order: pass each page's `next` as the
   * following call's `startingAfter` until it is `undefined`. Ids do not change when a rule is updated,
   * so a walk sees every rule present from its start to its end exactly once, whatever is added or
   * removed meanwhile (rules added meanwhile appear when their id sorts after the cursor).
   *
   * @example
   * ```ts
   * for (let next: string | undefined, first = true; first || next !== undefined; first = false) {
   *   const page = ic.listPage({ domain: 'gmail.com' }, { limit: 500, startingAfter: next })
   *   for (const rule of page.rules) console.log(rule.id)
   *   next = page.next
   * }
   * ```
   * @throws {ValidationError} for a bad filter, `limit` or `startingAfter`, naming the field.
   */
  listPage(filter: RuleFilter | undefined, page: PageOptions = {}): RulePage {
    return listRulePage(this.#index, filter, page, this.#now());
  }

  /** Removes all rules, or those of one scope; resolves to the number removed. */
  async clear(scope?: Scope): Promise<number> {
    this.#assertOpen();
    return this.#mutations.clear(scope);
  }

  /**
   * The hot path: the forced result for this attempt, or `undefined` to deliver normally. Counts the
   * hit, consumes `times`, draws `probability`. Never waits on I/O. Listeners and observers that throw
   * never reach the caller: their errors are reported as `error` events.
   * @throws {ValidationError} when the attempt itself is malformed (e.g. `ip` is not an address).
   * @throws {SmtpInterceptError} `not_ready` when stores are configured and `ready()` has not resolved.
   */
  check(attempt: Attempt): ForcedResult | undefined {
    if (this.#unready) this.#notReady();
    const result = this.#check(attempt);
    if (this.#observed) {
      for (const observer of this.#observers) {
        try {
          observer(attempt, result);
        } catch (err) {
          report(this, listenerFailed('an observer', err));
        }
      }
    }
    // One property read when nobody subscribed: the payload is built only for a subscriber.
    if (checkChannel.hasSubscribers) checkChannel.publish({ interceptor: this, attempt, result });
    return result;
  }

  /**
   * Calls `observer` after every `check` with the attempt and its result (`undefined`: passed through),
   * for recorders and debugging. Returns the function that stops it.
   *
   * @example
   * ```ts
   * const stop = ic.observe((attempt, result) => log.debug({ attempt, reply: result?.reply }))
   * ```
   */
  observe(observer: (attempt: Attempt, result: ForcedResult | undefined) => void): () => void {
    const own = (attempt: Attempt, result: ForcedResult | undefined) => observer(attempt, result);
    this.#observers.add(own);
    this.#observed = true;
    return () => {
      this.#observers.delete(own);
      this.#observed = this.#observers.size > 0;
    };
  }

  #check(attempt: Attempt): ForcedResult | undefined {
    const next = this.#expiry.next;
    if (next !== Infinity && next <= this.#now()) this.#expiry.sweep();
    const cache = this.#cache;
    // The cache hit inline: this is the path most checks of a busy worker take.
    const candidates = (cache !== undefined && typeof attempt === 'object' && attempt !== null ? cache.get(attempt) : undefined)
      ?? this.#candidates(attempt);
    for (let i = 0; i < candidates.length; i++) {
      const rule = candidates[i]!;
      if (rule.remaining === 0) {
        // A cluster budget with no local reservation left: skip it until the next one arrives.
        void this.#persistence.budgets.refill(rule);
        continue;
      }
      const options = rule.options;
      if (options.probability !== undefined && options.probability < 1 && this.#random() >= options.probability) continue;
      // Greylisting and rate limits decide per attempt from their state; a pass lets the next rule decide.
      if ((options.greylist !== undefined || options.rate !== undefined) && !(this.#gates ??= new GateState(this.#stateSize)).forces(rule, attempt, this.#now())) continue;
      return this.#apply(rule, attempt);
    }
    return undefined;
  }

  /**
   * The matching rules in precedence order and the winner, without side effects (no hit, no draw, no
   * greylisting or rate state recorded). The winner is the rule `check` would apply now: a cluster rule
   * waiting for a budget reservation here (`times` 0) is listed among the candidates but does not win.
   * `gates` tells, for each greylisting or rate-limited candidate, its triplet or counter and when an
   * attempt passes.
   * @throws {SmtpInterceptError} `not_ready` when stores are configured and `ready()` has not resolved.
   */
  explain(attempt: Attempt): Explanation {
    if (this.#unready) this.#notReady();
    return explainAttempt(this.#index, attempt, this.#now(), () => (this.#gates ??= new GateState(this.#stateSize)));
  }

  /**
   * Stops the expiry timer and stops following the stores (after writes in flight), giving back unused
   * cluster budget reservations. Later `add`/`remove`/`clear` reject; `check` keeps answering. The
   * stores themselves stay open: close them when nothing else uses them.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#expiry.stop();
    await this.#persistence.close();
    await this.#counters.close(); // after the writes in flight: a graceful stop leaves exact counts
  }

  /** Candidates of an attempt the cache does not hold (or with no cache), memoised when there is one. */
  #candidates(attempt: Attempt): readonly Rule[] {
    const candidates = this.#index.candidates(normalizeAttempt(attempt));
    // Misses are cached too, as the frozen empty list.
    if (this.#cache !== undefined) this.#cache.set(attempt, candidates.length === 0 ? NO_RULES : candidates);
    return candidates;
  }

  #apply(rule: Rule, attempt: Attempt): ForcedResult {
    rule.count++;
    let used: 0 | 1 = 0;
    if (rule.remaining !== undefined) {
      rule.remaining--;
      if (this.#persistence.budgets.budgeted(rule)) {
        this.#persistence.budgets.used(rule); // the shared budget decides when the rule is used up
      } else {
        used = 1;
        if (rule.remaining === 0) this.#mutations.lapsed(rule, 'exhausted');
      }
    }
    this.#counters.count(rule, used); // in memory only: saved in batches
    const result = (rule.result ??= forcedResult(rule));
    if (this.listenerCount('match') > 0) notify(this, 'match', result, attempt);
    return result;
  }

  #notReady(): never {
    throw new SmtpInterceptError('not_ready', 'the interceptor has stores and is not ready: await ready() before check() or explain()');
  }

  #assertOpen(): void {
    if (this.#closed) throw new SmtpInterceptError('closed', 'the interceptor is closed');
  }
}
