/**
 * The `greylist` and `rate` fields of a rule input: parsing, defaults, and the reply defaults they give
 * a rule. Their state lives in `gate-state.ts`; this file only validates.
 */
import type { ErrorDetail } from './errors.js';

/** Which attempt field a rate limit counts separately; `'rule'` counts every attempt of the rule together. */
export type RatePer = 'rule' | 'domain' | 'mta' | 'pool' | 'ip' | 'sender' | 'mx';

/** `greylist` of a rule input: `true` for the defaults, or any of the three durations in seconds. */
export interface GreylistInput {
  /** Seconds before a retry is accepted. @default 300 */
  delay?: number | string;
  /** Seconds a first attempt waits for its retry; later, the triplet starts over. @default 172800 (2 days) */
  window?: number | string;
  /** Seconds an accepted triplet passes without being greylisted again. @default 3024000 (35 days) */
  lifetime?: number | string;
}

/** `rate` of a rule input: force the reply on attempts beyond `limit` within `window` seconds. */
export interface RateInput {
  /** Attempts let through per window (1 or more). */
  limit: number | string;
  /** Window length in seconds. */
  window: number | string;
  /** Counted separately per value of this attempt field. @default 'rule' */
  per?: RatePer;
}

/** Validated greylisting, in milliseconds. */
export interface GreylistSpec {
  readonly delay: number;
  readonly window: number;
  readonly lifetime: number;
}

/** Validated rate limit; `window` in milliseconds. */
export interface RateSpec {
  readonly limit: number;
  readonly window: number;
  readonly per: RatePer;
}

/** Postgrey's defaults: a 5-minute delay, 2 days to retry, 35 days of passing once accepted. */
export const GREYLIST_DEFAULTS = Object.freeze({ delay: 300, window: 2 * 86_400, lifetime: 35 * 86_400 });
/** The default reply of a greylisting rule (each field overridable as for any rule). */
export const GREYLIST_REPLY = Object.freeze({ code: 451, extended: '4.7.1', description: 'Greylisted, please try again later' });
/** The default reply of a rate-limited rule. */
export const RATE_REPLY = Object.freeze({ code: 421, extended: '4.7.0', description: 'Too many messages, slow down' });
export const RATE_PER: readonly RatePer[] = Object.freeze(['rule', 'domain', 'mta', 'pool', 'ip', 'sender', 'mx']);

// A year: longer windows would keep state far beyond any test or retry schedule.
const MAX_SECONDS = 365 * 86_400;

type Report = (code: string, param: string, message: string) => undefined;

function seconds(field: string, raw: unknown, min: number, report: Report): number | undefined {
  const value = typeof raw === 'number' ? raw : Number(raw);
  if (typeof raw === 'boolean' || raw === '' || !Number.isInteger(value) || value < min || value > MAX_SECONDS) {
    return report('out_of_range', field, `${field} must be an integer number of seconds from ${min} to ${MAX_SECONDS} (got ${String(raw)})`);
  }
  return value;
}

/** Parses `greylist` (already shape-checked by the schema); `undefined` when absent or `false`. */
export function parseGreylist(raw: unknown, report: Report): GreylistSpec | undefined {
  if (raw === undefined || raw === false || raw === 'false' || raw === '0') return undefined;
  const given = (raw === true || raw === 'true' || raw === '1' ? {} : raw) as GreylistInput;
  const delay = given.delay === undefined ? GREYLIST_DEFAULTS.delay : seconds('greylist.delay', given.delay, 0, report);
  const window = given.window === undefined ? GREYLIST_DEFAULTS.window : seconds('greylist.window', given.window, 1, report);
  const lifetime = given.lifetime === undefined ? GREYLIST_DEFAULTS.lifetime : seconds('greylist.lifetime', given.lifetime, 1, report);
  if (delay === undefined || window === undefined || lifetime === undefined) return undefined;
  if (delay >= window) return report('out_of_range', 'greylist.window', `greylist.window (${window} s) must be longer than greylist.delay (${delay} s): no retry could pass`);
  return Object.freeze({ delay: delay * 1000, window: window * 1000, lifetime: lifetime * 1000 });
}

/** Parses `rate` (already shape-checked by the schema). */
export function parseRate(raw: unknown, report: Report): RateSpec | undefined {
  if (raw === undefined) return undefined;
  const given = raw as RateInput;
  if (given.limit === undefined) report('required', 'rate.limit', 'rate.limit is required');
  if (given.window === undefined) report('required', 'rate.window', 'rate.window is required');
  if (given.limit === undefined || given.window === undefined) return undefined;
  const limit = Number(given.limit);
  const okLimit = typeof given.limit !== 'boolean' && given.limit !== '' && Number.isInteger(limit) && limit >= 1 && limit <= 1_000_000;
  if (!okLimit) report('out_of_range', 'rate.limit', `rate.limit must be an integer from 1 to 1000000 (got ${String(given.limit)})`);
  const window = seconds('rate.window', given.window, 1, report);
  if (!okLimit || window === undefined) return undefined;
  return Object.freeze({ limit, window: window * 1000, per: given.per ?? 'rule' });
}

/** Problems of combining `greylist`/`rate` with each other and with `times`/`probability` (see docs/rules.md). */
export function gateConflicts(input: { greylist?: unknown; rate?: unknown; probability?: unknown }, greylist: boolean, rate: boolean): ErrorDetail[] {
  const out: ErrorDetail[] = [];
  if (greylist && rate) out.push({ code: 'mutually_exclusive', param: 'rate', message: 'greylist and rate may not be used together: use two rules' });
  // A random draw on top of a deterministic deferral makes neither testable; `times` stays allowed (it
  // counts forced replies: "greylist the next 3 first attempts").
  if ((greylist || rate) && input.probability !== undefined) {
    out.push({ code: 'mutually_exclusive', param: 'probability', message: `probability may not be used with ${greylist ? 'greylist' : 'rate'}` });
  }
  return out;
}
