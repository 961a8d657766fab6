/**
 * The forced result of a matched attempt: what an adapter replies or reports instead of delivering.
 */
import type { Phase } from './rule-input.js';
import type { Rule } from './rule.js';

/** How the host should treat a forced reply: 2xx delivered, 4xx deferred (retry), 5xx failed (bounce). */
export type Outcome = 'accepted' | 'deferred' | 'failed';

/**
 * The verdict for one attempt. Frozen; the same object is returned for every attempt a rule forces.
 *
 * @example
 * ```ts
 * const r = ic.check({ recipient: 'bob@gmail.com' })
 * if (r?.retryable) scheduleRetry(r.reply) // "421 4.0.0 forced deferring"
 * ```
 */
export interface ForcedResult {
  /** SMTP reply code. */
  readonly code: number;
  /** Enhanced status code: the rule's, or `<class>.0.0`. */
  readonly extended: string;
  /** Reply text: the rule's, or a default naming the outcome. */
  readonly description: string;
  /** The single reply line, e.g. `"421 4.0.0 forced deferring"`. Never contains CR or LF. */
  readonly reply: string;
  readonly outcome: Outcome;
  /** True for 4xx: the host should retry later. */
  readonly retryable: boolean;
  /** SMTP stage at which to give the reply. */
  readonly phase: Phase;
  /** Milliseconds to wait before replying. */
  readonly delay: number;
  /** The rule that forced it. */
  readonly rule: Rule;
}

const DEFAULT_TEXT: Record<Outcome, string> = {
  accepted: 'forced accept',
  deferred: 'forced deferring',
  failed: 'forced failure',
};

/** @internal Builds the (frozen) result a rule forces. */
export function forcedResult(rule: Rule): ForcedResult {
  const outcome: Outcome = rule.code < 300 ? 'accepted' : rule.code < 500 ? 'deferred' : 'failed';
  const extended = rule.extended ?? `${String(rule.code)[0]}.0.0`;
  const description = rule.description ?? DEFAULT_TEXT[outcome];
  return Object.freeze({
    code: rule.code,
    extended,
    description,
    reply: `${rule.code} ${extended} ${description}`,
    outcome,
    retryable: outcome === 'deferred',
    phase: rule.phase,
    delay: rule.delay,
    rule,
  });
}
