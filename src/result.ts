/**
 * The forced result of a matched attempt: what an adapter replies or reports instead of delivering.
 */
import type { Fault } from './fault.js';
import { buildReplyLines } from './reply.js';
import type { Phase } from './rule-input.js';
import type { Rule } from './rule.js';

/** How the host should treat a forced reply: 2xx delivered, 4xx deferred (retry), 5xx failed (bounce). */
export type Outcome = 'accepted' | 'deferred' | 'failed';

/**
 * The verdict for one attempt: a {@link ForcedReply} or a {@link ForcedFault} (tell them apart by
 * `fault`). Frozen; the same object is returned for every attempt a rule forces.
 *
 * @example
 * ```ts
 * const r = ic.check({ recipient: 'bob@gmail.com' })
 * if (r?.fault) dropConnection(r.fault)
 * else if (r?.retryable) scheduleRetry(r.reply) // "421 4.0.0 forced deferring"
 * ```
 */
export type ForcedResult = ForcedReply | ForcedFault;

/** A forced reply: the rule's code, enhanced code and text. */
export interface ForcedReply {
  /** Always undefined: a reply is not a fault. */
  readonly fault?: undefined;
  /** SMTP reply code. */
  readonly code: number;
  /** Enhanced status code: the rule's, or `<class>.0.0`. */
  readonly extended: string;
  /**
   * Reply text: the rule's, or a default naming the outcome. For a multi-line rule, its lines joined
   * with `"\n"`.
   */
  readonly description: string;
  /**
   * The reply as nodemailer reports one from a server: the single line, e.g. `"421 4.0.0 forced
   * deferring"`; for a multi-line rule the wire lines joined with `"\n"` (`"550-5.1.1 first\n550
   * 5.1.1 second"`). Never contains CR.
   */
  readonly reply: string;
  /**
   * The wire lines without CRLF, each US-ASCII and at most 510 octets: `["550-5.1.1 first", "550 5.1.1
   * second"]`; one entry for a single-line reply. Frozen.
   */
  readonly replyLines: readonly string[];
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

/**
 * A forced connection fault: no reply, the connection misbehaves. A host sees a failed connection,
 * so the outcome is always `deferred` and `retryable`.
 */
export interface ForcedFault {
  /** Which fault, with its options. */
  readonly fault: Fault;
  /** A fault has no reply: these are absent (so `result.code` reads on either kind of result). */
  readonly code?: undefined;
  readonly extended?: undefined;
  readonly description?: undefined;
  readonly reply?: undefined;
  readonly replyLines?: undefined;
  readonly outcome: 'deferred';
  readonly retryable: true;
  /** SMTP stage at which the fault happens (`connect` for `tls`: at STARTTLS). */
  readonly phase: Phase;
  /** Milliseconds before the fault; for `hang`, before the server closes (0: never). */
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
  const fault = rule.fault;
  if (fault !== undefined) {
    return Object.freeze({ fault, outcome: 'deferred', retryable: true, phase: rule.phase, delay: rule.delay, rule });
  }
  const outcome: Outcome = rule.code < 300 ? 'accepted' : rule.code < 500 ? 'deferred' : 'failed';
  const extended = rule.extended ?? `${String(rule.code)[0]}.0.0`;
  const given = rule.description ?? DEFAULT_TEXT[outcome];
  const replyLines = buildReplyLines(rule.code, extended, typeof given === 'string' ? [given] : given);
  return Object.freeze({
    code: rule.code,
    extended,
    description: typeof given === 'string' ? given : given.join('\n'),
    reply: replyLines.join('\n'),
    replyLines,
    outcome,
    retryable: outcome === 'deferred',
    phase: rule.phase,
    delay: rule.delay,
    rule,
  });
}
