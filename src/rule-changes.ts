/**
 * The changes of an interceptor's installed rule set and what goes with each: the attempt cache cleared,
 * the expiry timer kept in step, a replaced or removed revision's budget and counters handed on, and the
 * events and diagnostics messages announced. Whether a change may happen (the store wrote it) is decided
 * before it gets here (persistence.ts); this only applies it.
 */
import type { EventEmitter } from 'eventemitter3';
import type { AttemptCache } from './attempt-cache.js';
import { ruleAddedChannel, ruleRemovedChannel, ruleUpdatedChannel } from './diagnostics.js';
import type { ExpiryTimer } from './expiry-timer.js';
import type { GateState } from './gate-state.js';
import type { InterceptorEvents, RemovalReason } from './interceptor-types.js';
import type { Rule } from './rule.js';
import type { RuleIndex } from './rule-index.js';
import { notify } from './safe-events.js';

/** The interceptor's parts a change of its rule set touches. */
export interface RuleChangeHost {
  /** The interceptor: emits the events and is named in the diagnostics messages. */
  readonly emitter: EventEmitter<InterceptorEvents>;
  readonly index: RuleIndex;
  readonly expiry: ExpiryTimer;
  readonly cache: AttemptCache | undefined;
  /** The greylisting and rate state, when a check has made it (it is made lazily). */
  gates(): GateState | undefined;
  /** `rule` left the rule set (removed or replaced): its cluster budget reservations go back. */
  retired(rule: Rule): void;
  /** Another revision `next` replaced `previous`: hits counted on `previous` follow the id. */
  replaced(previous: Rule, next: Rule): void;
}

/** Applies installs and removals to an interceptor's rule set, each with its effects and events. */
export class RuleChanges {
  readonly #host: RuleChangeHost;

  constructor(host: RuleChangeHost) {
    this.#host = host;
  }

  /** Puts `rule` into the index, replacing the rule of its id. */
  install(rule: Rule): void {
    const previous = this.#host.index.set(rule);
    if (rule.expires !== undefined) this.#host.expiry.push(rule);
    this.#changed(rule.expires !== undefined);
    this.#announce(rule, previous);
  }

  /** A store's loaded rules: `install` per rule, with one cache clear and one timer arm for all. */
  installAll(rules: readonly Rule[]): void {
    const { index, expiry } = this.#host;
    let expiring = false;
    // `check` throws `not_ready` during a load, so nothing can read the cache before it is cleared below.
    index.load(rules, (rule, previous) => {
      if (rule.expires !== undefined) {
        expiry.push(rule);
        expiring = true;
      }
      this.#announce(rule, previous);
    });
    if (rules.length > 0) this.#changed(expiring);
  }

  /** Removes the rule with this id; returns it, or `undefined` when there was none. */
  delete(id: string, reason: RemovalReason): Rule | undefined {
    const rule = this.#host.index.delete(id);
    if (!rule) return undefined;
    this.#changed(false);
    this.#host.retired(rule);
    this.#removed(rule, reason);
    return rule;
  }

  /** Removes the installed rules `covers` accepts; returns how many. */
  clear(covers: (rule: Rule) => boolean): number {
    const { index, expiry } = this.#host;
    const removed = [...index.values()].filter(covers);
    if (removed.length === index.size) {
      index.clear();
      expiry.clear();
      this.#host.gates()?.clear();
    } else {
      for (const rule of removed) index.delete(rule.id);
    }
    if (removed.length > 0) this.#changed(false);
    for (const rule of removed) {
      this.#host.retired(rule);
      this.#removed(rule, 'cleared');
    }
    return removed.length;
  }

  #announce(rule: Rule, previous: Rule | undefined): void {
    const interceptor = this.#host.emitter;
    if (previous) {
      this.#host.retired(previous);
      this.#host.replaced(previous, rule);
      notify(interceptor, 'rule:updated', rule, previous);
      if (ruleUpdatedChannel.hasSubscribers) ruleUpdatedChannel.publish({ interceptor, rule, previous });
    } else {
      notify(interceptor, 'rule:added', rule);
      if (ruleAddedChannel.hasSubscribers) ruleAddedChannel.publish({ interceptor, rule });
    }
  }

  #removed(rule: Rule, reason: RemovalReason): void {
    const interceptor = this.#host.emitter;
    notify(interceptor, 'rule:removed', rule, reason);
    if (ruleRemovedChannel.hasSubscribers) ruleRemovedChannel.publish({ interceptor, rule, reason });
  }

  #changed(expiryChanged: boolean): void {
    this.#host.cache?.clear();
    if (expiryChanged) this.#host.expiry.arm();
  }
}
