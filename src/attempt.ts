/**
 * A delivery attempt as the hot path sees it, and its normalisation to the same canonical forms rules
 * use. Normalisation runs only on a cache miss: the cache is keyed by the raw values.
 */
import { normalizeHostname, parseAddress } from './domain.js';
import { type ErrorDetail, ValidationError } from './errors.js';
import { parseIp, type ParsedIp } from './ip.js';
import type { Phase } from './rule-input.js';

/**
 * One delivery attempt to check. Every field is optional; a rule binding a field the attempt lacks does
 * not match it. Empty strings count as absent.
 *
 * @example
 * ```ts
 * ic.check({ pool: 'shared-pool-1', recipient: 'bob@gmail.com', ip: '142.250.1.26', tags: ['Campaign1'] })
 * ```
 */
export interface Attempt {
  /** IP pool the delivery is sent from. */
  pool?: string;
  /** Local sending IP. */
  mta?: string;
  /** Recipient domain; derived from `recipient` when absent. */
  domain?: string;
  /** Remote MX IP. */
  ip?: string;
  /** Recipient address. */
  recipient?: string;
  /** Campaign tags; a tag rule matches when any equals its tag. */
  tags?: string | readonly string[];
  /** SMTP stage being checked; when given, only rules for this phase match. */
  phase?: Phase;
}

/** @internal An attempt in canonical form. */
export interface NormalizedAttempt {
  readonly pool: string | undefined;
  readonly mta: string | undefined;
  readonly domain: string | undefined;
  readonly ip: ParsedIp | undefined;
  readonly recipient: string | undefined;
  readonly tags: readonly string[];
  readonly phase: Phase | undefined;
}

const PHASES: ReadonlySet<unknown> = new Set(['connect', 'mail', 'rcpt', 'data']);
// eslint-disable-next-line no-control-regex
const CONTROL = /[\p{Cc}]/u;

/**
 * @internal The memo cache key of an attempt, from its raw values. Distinct attempts give distinct keys
 * unless a value holds a NUL, which normalisation rejects on the first (uncached) check.
 */
export function attemptKey(a: Attempt): string {
  const tags = a.tags;
  const tagText = tags === undefined ? '' : typeof tags === 'string' ? tags : tags.join('\u0000\u0000');
  return `${a.pool ?? ''}\u0000${a.mta ?? ''}\u0000${a.domain ?? ''}\u0000${a.ip ?? ''}\u0000${a.recipient ?? ''}\u0000${a.phase ?? ''}\u0000${tagText}`;
}

/** @internal Validates and normalises an attempt; throws a {@link ValidationError} naming every bad field. */
export function normalizeAttempt(a: Attempt): NormalizedAttempt {
  if (typeof a !== 'object' || a === null) {
    throw new ValidationError([{ code: 'invalid_type', message: 'an attempt must be an object' }]);
  }
  const problems: ErrorDetail[] = [];
  const str = (field: keyof Attempt): string | undefined => {
    const value: unknown = a[field];
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value !== 'string') {
      problems.push({ code: 'invalid_type', message: `attempt.${field} must be a string`, param: field });
      return undefined;
    }
    if (CONTROL.test(value)) {
      problems.push({ code: 'invalid_format', message: `attempt.${field} must not contain control characters`, param: field });
      return undefined;
    }
    return value;
  };
  const ipOf = (field: 'mta' | 'ip'): ParsedIp | undefined => {
    const text = str(field);
    if (text === undefined) return undefined;
    const ip = parseIp(text);
    if (!ip) problems.push({ code: 'invalid_format', message: `attempt.${field} "${text}" is not an IP address`, param: field });
    return ip;
  };
  const pool = str('pool');
  const mta = ipOf('mta')?.text;
  const ip = ipOf('ip');
  const recipientText = str('recipient');
  let recipient: string | undefined;
  let domain: string | undefined;
  if (recipientText !== undefined) {
    const parsed = parseAddress(recipientText);
    if ('problem' in parsed) problems.push({ code: 'invalid_format', message: `attempt.recipient: ${parsed.problem}`, param: 'recipient' });
    else ({ text: recipient, domain } = parsed);
  }
  const domainText = str('domain');
  if (domainText !== undefined) {
    const parsed = normalizeHostname(domainText);
    if (typeof parsed === 'string') domain = parsed;
    else problems.push({ code: 'invalid_format', message: `attempt.domain: ${parsed.problem}`, param: 'domain' });
  }
  const rawTags: unknown = a.tags;
  const list: unknown[] = rawTags === undefined || rawTags === null ? [] : Array.isArray(rawTags) ? rawTags : [rawTags];
  const tags: string[] = [];
  for (const tag of list) {
    if (typeof tag !== 'string' || CONTROL.test(tag)) {
      problems.push({ code: 'invalid_type', message: 'attempt.tags must be a string or an array of strings without control characters', param: 'tags' });
      break;
    }
    if (tag !== '' && !tags.includes(tag)) tags.push(tag);
  }
  const phase = a.phase === undefined ? undefined : PHASES.has(a.phase) ? a.phase : undefined;
  if (a.phase !== undefined && phase === undefined) {
    problems.push({ code: 'invalid_format', message: 'attempt.phase must be one of connect, mail, rcpt, data', param: 'phase' });
  }
  if (problems.length > 0) throw new ValidationError(problems);
  return { pool, mta, domain, ip, recipient, tags, phase };
}
