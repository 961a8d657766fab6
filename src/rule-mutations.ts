/**
 * What `add`, `remove` and `clear` do once the interceptor has accepted the call, and what a rule that
 * lapses by itself (expired, used up) leaves to do: the new revision built with the counts it carries
 * over, written to the stores before it is applied here, and the counters kept in step with writes whose
 * outcome is not known yet.
 */
import type { CounterFlush } from './counter-flush.js';
import { publishStoreError } from './diagnostics.js';
import { ValidationError } from './errors.js';
import type { Scope } from './interceptor-types.js';
import type { Persistence } from './persistence.js';
import { Rule } from './rule.js';
import type { RuleChanges } from './rule-changes.js';
import { ruleId } from './rule-id.js';
import type { RuleIndex } from './rule-index.js';
import { parseRuleInput, type RuleInput } from './rule-input.js';

/** The interceptor's parts a mutation goes through. */
export interface RuleMutationHost {
  /** The interceptor, named in the diagnostics message of a store error. */
  readonly interceptor: object;
  now(): number;
  readonly index: RuleIndex;
  readonly persistence: Persistence;
  readonly counters: CounterFlush;
  readonly changes: RuleChanges;
}

/** The rule set's mutations: durable first, then applied, in call order (write-pipeline.ts). */
export class RuleMutations {
  readonly #host: RuleMutationHost;

  constructor(host: RuleMutationHost) {
    this.#host = host;
  }

  /**
   * `Interceptor.add`: adds `input`'s rule or updates the rule with its selector.
   * @throws {ValidationError} listing every problem of the input.
   */
  add(input: RuleInput): Promise<Rule> {
    const { index, persistence, counters, changes } = this.#host;
    // Issued in call order with other mutations' writes in flight; applied in call order (write-pipeline.ts).
    return persistence.mutate(() => {
      const now = this.#host.now();
      const spec = parseRuleInput(input, now);
      const id = ruleId(spec);
      const installed = index.get(id);
      const previous = persistence.expected(id, installed); // possibly an add still in flight
      // An update's JSON carries every hit counted so far; the replaced revision's unsaved counts are sent
      // first (stores apply calls in call order; RedisStore keeps hits apart from the rule), and those
      // counted while the write is in flight wait for its outcome (counter-flush.ts).
      if (installed) counters.saveNow(installed);
      const rule = new Rule(spec, id, previous?.created ?? now, now, previous ? counters.hitsSoFar(id, installed ?? previous) : 0);
      // Durable first: if the store fails, the call rejects and the rule set is unchanged.
      const write = persistence.writes.put(rule, () => {
        counters.applied(rule);
        changes.install(rule);
        // In the same step as the install: no check sees the rule with applications it has not reserved.
        return persistence.budgets.added(rule).then(() => rule);
      });
      counters.issued(rule, installed);
      return { ...write, settled: () => { write.settled?.(); counters.settled(rule); } };
    }, (err) => publishStoreError(this.#host.interceptor, 'add', err));
  }

  /** `Interceptor.remove`: removes the rule with this id; resolves to it, or `undefined` when there was none. */
  remove(id: string): Promise<Rule | undefined> {
    const { index, persistence, changes } = this.#host;
    // A rule used up while its removal was written is gone already: it is still the one removed.
    return persistence.mutate(() => persistence.writes.delete(id, index.get(id), (before) => changes.delete(id, 'deleted') ?? before),
      (err) => publishStoreError(this.#host.interceptor, 'remove', err));
  }

  /**
   * `Interceptor.clear`: removes all rules, or those of one scope; resolves to the number removed.
   * @throws {ValidationError} for a scope other than `cluster` or `instance`.
   */
  clear(scope: Scope | undefined): Promise<number> {
    if (scope !== undefined && scope !== 'cluster' && scope !== 'instance') {
      throw new ValidationError([{ code: 'invalid_format', message: 'scope must be "cluster" or "instance"', param: 'scope' }]);
    }
    const { persistence, changes } = this.#host;
    // The rules it covers when the stores are cleared: some may have been used up meanwhile.
    return persistence.mutate(() => persistence.writes.clear(scope, (covers) => changes.clear(covers)),
      (err) => publishStoreError(this.#host.interceptor, 'clear', err));
  }

  /** `rule` expired or was used up here: it leaves the rule set now, and the stores in the background. */
  lapsed(rule: Rule, reason: 'expired' | 'exhausted'): void {
    this.#host.changes.delete(rule.id, reason);
    this.#host.persistence.writes.forget(rule);
  }
}
