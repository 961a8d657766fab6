/**
 * The state of greylisting and rate-limited rules: greylisting triplets and rate counters, each in a
 * bounded LRU, following the interceptor's injected clock. Only rules with `greylist` or `rate` reach
 * this file; every other rule is decided by the index alone.
 */
import { LRUCache } from 'lru-cache';
import { type Attempt, normalizeAttempt, type NormalizedAttempt } from './attempt.js';
import type { Rule } from './rule.js';
import { KEY_SEPARATOR } from './shape.js';
import type { GreylistSpec, RateSpec } from './gate-input.js';
import { networkKey } from './ip.js';

/** The (client, sender, recipient) triplet greylisting keys on; absent fields are `''`. */
export interface Triplet {
  /** The attempt's `mta` masked to /24 (IPv4) or /64 (IPv6); its `pool` when there is no `mta`. */
  readonly client: string;
  readonly sender: string;
  readonly recipient: string;
}

/** What `explain` reports for a greylisting candidate. */
export interface GreylistExplanation {
  readonly rule: Rule;
  readonly kind: 'greylist';
  readonly triplet: Triplet;
  /** `new`: the next attempt is the first (forced); `waiting`: forced until `passAt`; `passing`: passes. */
  readonly state: 'new' | 'waiting' | 'passing';
  /** Epoch milliseconds from which a retry passes (for `new`: if the first attempt were made now). */
  readonly passAt: number;
}

/** What `explain` reports for a rate-limited candidate. */
export interface RateExplanation {
  readonly rule: Rule;
  readonly kind: 'rate';
  /** The counted value of `rate.per` (`''` when the attempt lacks it; the rule id for `per: 'rule'`). */
  readonly key: string;
  /** Whole attempts that would pass now. */
  readonly available: number;
  /** Epoch milliseconds when the next attempt passes (now when `available > 0`). */
  readonly passAt: number;
}

export type GateExplanation = GreylistExplanation | RateExplanation;

/** A triplet's greylisting record: first seen, and (once a retry passed) last seen. */
interface Seen { first: number; passed: number | undefined }
/** A token bucket: tokens at time `at`. */
interface Bucket { tokens: number; at: number }

function clientOf(a: NormalizedAttempt): string {
  if (a.mta === undefined) return a.pool ?? '';
  const ip = normalizeAttempt({ ip: a.mta }).ip!;
  const net = networkKey(ip, ip.family === 4 ? 24 : 64);
  return typeof net === 'number' ? `${net >>> 24}.${(net >>> 16) & 255}.${(net >>> 8) & 255}.0/24` : `${net}/64`;
}

function tripletOf(a: NormalizedAttempt): Triplet {
  return { client: clientOf(a), sender: a.sender ?? '', recipient: a.recipient ?? '' };
}

/** The table key of `rule`'s record of triplet `t`. */
const tripletKey = (rule: Rule, t: Triplet): string => rule.id + KEY_SEPARATOR + t.client + KEY_SEPARATOR + t.sender + KEY_SEPARATOR + t.recipient;

function rateKey(rule: Rule, rate: RateSpec, a: NormalizedAttempt): string {
  if (rate.per === 'rule') return rule.id;
  if (rate.per === 'ip') return a.ip?.text ?? '';
  return a[rate.per] ?? '';
}

/** Greylisting triplets and rate counters of one interceptor (per instance, never shared). */
export class GateState {
  readonly #seen: LRUCache<string, Seen>;
  readonly #buckets: LRUCache<string, Bucket>;

  /** `max` bounds each of the two tables. */
  constructor(max: number) {
    this.#seen = new LRUCache({ max });
    this.#buckets = new LRUCache({ max });
  }

  /** Whether `rule` forces its reply on `attempt` at `now`, recording the attempt. */
  forces(rule: Rule, attempt: Attempt, now: number): boolean {
    const a = normalizeAttempt(attempt);
    const { greylist, rate } = rule.options;
    if (greylist !== undefined) return this.#greylist(rule, greylist, a, now);
    if (rate !== undefined) return this.#limit(rule, rate, a, now);
    return true;
  }

  #greylist(rule: Rule, g: GreylistSpec, a: NormalizedAttempt, now: number): boolean {
    const key = tripletKey(rule, tripletOf(a));
    const seen = this.#seen.get(key);
    if (seen === undefined || stale(seen, g, now)) {
      this.#seen.set(key, { first: now, passed: undefined });
      return true;
    }
    if (seen.passed === undefined && now - seen.first < g.delay) return true; // too early: the wait is not restarted
    seen.passed = now;
    return false;
  }

  #limit(rule: Rule, rate: RateSpec, a: NormalizedAttempt, now: number): boolean {
    const key = rule.id + KEY_SEPARATOR + rateKey(rule, rate, a);
    const bucket = this.#buckets.get(key);
    const tokens = bucket === undefined ? rate.limit : refilled(bucket, rate, now);
    // A forced attempt takes no token: a sender that keeps retrying too fast is not locked out longer.
    if (tokens < 1) {
      if (bucket !== undefined) { bucket.tokens = tokens; bucket.at = now; }
      return true;
    }
    if (bucket === undefined) this.#buckets.set(key, { tokens: tokens - 1, at: now });
    else { bucket.tokens = tokens - 1; bucket.at = now; }
    return false;
  }

  /** The state `rule` would decide `attempt` on at `now`, without recording anything. */
  explain(rule: Rule, attempt: Attempt, now: number): GateExplanation | undefined {
    const a = normalizeAttempt(attempt);
    const { greylist, rate } = rule.options;
    if (greylist !== undefined) {
      const triplet = tripletOf(a);
      const seen = this.#seen.peek(tripletKey(rule, triplet));
      if (seen === undefined || stale(seen, greylist, now)) return { rule, kind: 'greylist', triplet, state: 'new', passAt: now + greylist.delay };
      const passAt = seen.passed ?? seen.first + greylist.delay;
      return { rule, kind: 'greylist', triplet, state: passAt <= now ? 'passing' : 'waiting', passAt };
    }
    if (rate === undefined) return undefined;
    const key = rateKey(rule, rate, a);
    const bucket = this.#buckets.peek(rule.id + KEY_SEPARATOR + key);
    const tokens = bucket === undefined ? rate.limit : refilled(bucket, rate, now);
    const passAt = tokens >= 1 ? now : now + Math.ceil(((1 - tokens) * rate.window) / rate.limit);
    return { rule, kind: 'rate', key, available: Math.floor(tokens), passAt };
  }

  /** Forgets every triplet and counter (all rules were cleared: a rule added again starts afresh). */
  clear(): void {
    this.#seen.clear();
    this.#buckets.clear();
  }
}

/** A triplet starts over when its first attempt was never retried within `window`, or after `lifetime` unseen. */
function stale(seen: Seen, g: GreylistSpec, now: number): boolean {
  return seen.passed === undefined ? now - seen.first > g.window : now - seen.passed > g.lifetime;
}

/** Tokens after refilling at `limit` per `window` since the bucket was last touched, capped at `limit`. */
function refilled(bucket: Bucket, rate: RateSpec, now: number): number {
  return Math.min(rate.limit, bucket.tokens + ((now - bucket.at) * rate.limit) / rate.window);
}
