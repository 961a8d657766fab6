/**
 * The public types of `Interceptor`: options, events, scopes, explanations.
 */
import type { Attempt } from './attempt.js';
import type { GateExplanation } from './gate-state.js';
import type { ForcedResult } from './result.js';
import type { Rule } from './rule.js';
import type { RuleStore } from './store.js';

/** Options of {@link Interceptor}. */
export interface InterceptorOptions {
  /**
   * Maximum number of distinct recipients (or, for attempts without one, domains, IPs...) whose
   * candidate rules are memoised, up to 8 attempt variants each; 0 disables the cache. @default 10000
   */
  cacheSize?: number;
  /** Clock in epoch milliseconds, for `expires`/`ttl` (inject one in tests). @default Date.now */
  now?: () => number;
  /** Source of uniform numbers in [0, 1) for `probability`. Exclusive with `seed`. @default Math.random */
  random?: () => number;
  /** Seed of a built-in PRNG for `probability`, so runs reproduce. Exclusive with `random`. */
  seed?: number;
  /** Where instance rules (and, without `clusterStore`, cluster rules) are persisted. @default none: memory only */
  store?: RuleStore;
  /** Where cluster rules are persisted and shared with the other instances. */
  clusterStore?: RuleStore;
  /**
   * Maximum greylisting triplets, and separately rate-limit counters, kept in memory; the least
   * recently used is forgotten first (its next attempt counts as new). @default 100000
   */
  stateSize?: number;
  /**
   * How often (ms) rule counters (`hits`, `times` left) are saved to stores that keep them
   * (`RuleStore.saveCounters`); `check` never writes. Counters are also saved on `close()`. A crash
   * loses at most the counts of the last interval. 0: only on `close()`. @default 1000
   */
  counterFlushMs?: number;
}

/** Why a rule left the rule set. */
export type RemovalReason = 'deleted' | 'expired' | 'exhausted' | 'cleared';

/** Which rules `clear` removes: cluster rules, instance rules, or (when omitted) all. */
export type Scope = 'cluster' | 'instance';

/** Events of an {@link Interceptor}. */
export interface InterceptorEvents {
  'rule:added': (rule: Rule) => void;
  'rule:updated': (rule: Rule, previous: Rule) => void;
  'rule:removed': (rule: Rule, reason: RemovalReason) => void;
  /** Emitted for every forced result; built only while someone listens. */
  match: (result: ForcedResult, attempt: Attempt) => void;
  /**
   * A failure nobody awaits: a background store write (removing an expired or used-up rule), an invalid
   * change from another instance, a lost store connection. The engine keeps serving its rules.
   */
  error: (err: unknown) => void;
}

/** What `explain` reports: every matching rule in precedence order, and the one that applies first. */
export interface Explanation {
  /**
   * `candidates[0]`: the rule `check` applies when its probability draw (if any) succeeds and, for a
   * greylisting or rate-limited rule, when `gates` says it forces (otherwise the next candidate decides).
   */
  readonly winner: Rule | undefined;
  readonly candidates: readonly Rule[];
  /** For each greylisting or rate-limited candidate, in candidate order: its state for this attempt. */
  readonly gates: readonly GateExplanation[];
}
