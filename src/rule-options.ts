/**
 * The rarely set fields of a rule, kept out of `Rule` itself: rules that set none of them share one
 * frozen object (measured: ~50 bytes of heap per rule at 1M rules).
 */
import type { Fault } from './fault.js';
import type { GreylistSpec, RateSpec } from './gate-input.js';
import type { Phase, RuleSpec } from './rule-input.js';

/** The rarely set fields of a rule, grouped so that rules without them share one frozen object. */
export interface RuleOptions {
  readonly extended: string | undefined;
  readonly description: string | readonly string[] | undefined;
  readonly probability: number | undefined;
  readonly expires: number | undefined;
  readonly priority: number;
  readonly phase: Phase;
  readonly delay: number;
  // Present only on rules that set one of them: a rule with other options keeps its smaller object
  // (measured: 4 fields more cost every such rule 32 bytes at 100k rules).
  readonly sender?: string | undefined;
  readonly mx?: string | undefined;
  readonly greylist?: GreylistSpec | undefined;
  readonly rate?: RateSpec | undefined;
  readonly fault?: Fault | undefined;
}

const DEFAULT_OPTIONS: RuleOptions = Object.freeze({
  extended: undefined, description: undefined, probability: undefined, expires: undefined, priority: 0, phase: 'rcpt', delay: 0,
});

/** The options object of a rule with `spec`: the shared default one when it sets none of them. */
export function optionsOf(spec: RuleSpec): RuleOptions {
  const { extended, description, probability, expires, priority, phase, delay, greylist, rate, fault } = spec;
  const sender = spec.sender?.text;
  const mx = spec.mx?.text;
  if (sender !== undefined || mx !== undefined || greylist !== undefined || rate !== undefined || fault !== undefined) {
    return Object.freeze({ extended, description, probability, expires, priority, phase, delay, sender, mx, greylist, rate, fault });
  }
  if (extended === undefined && description === undefined && probability === undefined && expires === undefined
    && priority === 0 && phase === 'rcpt' && delay === 0) return DEFAULT_OPTIONS;
  return Object.freeze({ extended, description, probability, expires, priority, phase, delay });
}
