/**
 * A delivery attempt as the hot path sees it, and its normalisation to the same canonical forms rules
 * use. Normalisation runs only on a cache miss: the cache compares raw values.
 */
import { addressDomain, normalizeHostname, NULL_SENDER } from './domain.js';
import { type ErrorDetail, ValidationError } from './errors.js';
import { ipText, parseIp, type ParsedIp } from './ip.js';
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
  /** Envelope sender (MAIL FROM): an address, or `<>` for the null sender of bounces and DSNs. */
  sender?: string;
  /** Host name of the MX the delivery goes to (e.g. `alt1.aspmx.l.google.com`). */
  mx?: string;
  /**
   * Whether the command came over TLS, where the checker knows it: the fake MX, `serve` and
   * `interceptServerOptions` (smtp-server's `session.secure`) set it on every attempt; plugins that
   * decide before their host connects (Haraka, ZoneMTA, nodemailer) leave it out. Evidence for
   * observers (the recorder, `/v1/attempts`), not a selector: no rule matches on it, and `check`
   * neither reads nor validates it.
   */
  tls?: boolean;
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
  /** Canonical address, or `<>`. */
  readonly sender: string | undefined;
  /** The sender's normalised domain; undefined for `<>`. */
  readonly senderDomain: string | undefined;
  readonly mx: string | undefined;
}

const PHASES: ReadonlySet<unknown> = new Set(['connect', 'mail', 'rcpt', 'data']);
// C0, DEL and C1 controls. Not a /u regex: those are several times slower and this runs per field.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f-\x9f]/;

// Problems of the attempt being normalised. Module state rather than an array per call: normalisation
// runs on every uncached check and is synchronous, and in a heap holding a million rules every
// allocation on this path is paid again in incremental marking (measured: 2x the time at 1M rules).
let problems: ErrorDetail[] | undefined;

function report(detail: ErrorDetail): undefined {
  (problems ??= []).push(detail);
  return undefined;
}

function text(a: Attempt, field: keyof Attempt): string | undefined {
  const value: unknown = a[field];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') return report({ code: 'invalid_type', message: `attempt.${field} must be a string`, param: field });
  if (CONTROL.test(value)) return report({ code: 'invalid_format', message: `attempt.${field} must not contain control characters`, param: field });
  return value;
}

function notIp(field: 'mta' | 'ip', value: string): undefined {
  return report({ code: 'invalid_format', message: `attempt.${field} "${value}" is not an IP address`, param: field });
}

function hasDuplicate(tags: readonly string[]): boolean {
  if (tags.length > 16) return new Set(tags).size !== tags.length;
  for (let i = 1; i < tags.length; i++) for (let j = 0; j < i; j++) if (tags[i] === tags[j]) return true;
  return false;
}

function tagList(raw: unknown): readonly string[] {
  if (raw === undefined || raw === null || raw === '') return NO_TAGS;
  if (typeof raw === 'string') return CONTROL.test(raw) ? badTags() : [raw];
  if (!Array.isArray(raw)) return badTags();
  let clean = true;
  for (const tag of raw as unknown[]) {
    if (typeof tag !== 'string' || CONTROL.test(tag)) return badTags();
    if (tag === '') clean = false;
  }
  const tags = raw as readonly string[];
  // The caller's array is used as is when it needs no cleaning (the lookup does not keep it).
  if (clean && !hasDuplicate(tags)) return tags;
  return [...new Set(tags.filter((t) => t !== ''))];
}

function badTags(): readonly string[] {
  report({ code: 'invalid_type', message: 'attempt.tags must be a string or an array of strings without control characters', param: 'tags' });
  return NO_TAGS;
}

const NO_TAGS: readonly string[] = Object.freeze([]);

/** The domain of the last address {@link address} normalised: module state, not a pair per call. */
let addressDomainFound: string | undefined;

/** The canonical form of address `value` of `field` (local part as given, domain normalised); its domain in `addressDomainFound`. */
function address(value: string | undefined, field: 'recipient' | 'sender'): string | undefined {
  addressDomainFound = undefined;
  if (value === undefined) return undefined;
  const at = value.lastIndexOf('@');
  const parsed = addressDomain(value, at);
  if (typeof parsed !== 'string') {
    const hint = field === 'sender' ? ' (the null sender is "<>")' : '';
    return report({ code: 'invalid_format', message: `attempt.${field}: ${parsed.problem}${hint}`, param: field });
  }
  addressDomainFound = parsed;
  // An address whose domain is already canonical is used as is (no new string).
  return parsed.length === value.length - at - 1 && value.endsWith(parsed) ? value : `${value.slice(0, at)}@${parsed}`;
}

/** The normalised host name in `field`. */
function host(a: Attempt, field: 'domain' | 'mx'): string | undefined {
  const value = text(a, field);
  if (value === undefined) return undefined;
  const parsed = normalizeHostname(value);
  return typeof parsed === 'string' ? parsed : report({ code: 'invalid_format', message: `attempt.${field}: ${parsed.problem}`, param: field });
}

/** @internal Validates and normalises an attempt; throws a {@link ValidationError} naming every bad field. */
export function normalizeAttempt(a: Attempt): NormalizedAttempt {
  if (typeof a !== 'object' || a === null) {
    throw new ValidationError([{ code: 'invalid_type', message: 'an attempt must be an object' }]);
  }
  problems = undefined;
  const pool = text(a, 'pool');
  const mtaText = text(a, 'mta');
  const mta = mtaText === undefined ? undefined : ipText(mtaText) ?? notIp('mta', mtaText);
  const ipRaw = text(a, 'ip');
  const ip = ipRaw === undefined ? undefined : parseIp(ipRaw) ?? notIp('ip', ipRaw);
  const recipient = address(text(a, 'recipient'), 'recipient');
  const recipientDomain = addressDomainFound;
  const domain = host(a, 'domain') ?? recipientDomain;
  const senderText = text(a, 'sender');
  const sender = senderText === NULL_SENDER ? senderText : address(senderText, 'sender');
  const senderDomain = senderText === NULL_SENDER ? undefined : addressDomainFound;
  const mx = host(a, 'mx');
  const tags = tagList(a.tags);
  const phase = a.phase === undefined ? undefined : PHASES.has(a.phase) ? a.phase : undefined;
  if (a.phase !== undefined && phase === undefined) {
    report({ code: 'invalid_format', message: 'attempt.phase must be one of connect, mail, rcpt, data', param: 'phase' });
  }
  if (problems !== undefined) {
    const found = problems;
    problems = undefined;
    throw new ValidationError(found);
  }
  return { pool, mta, domain, ip, recipient, tags, phase, sender, senderDomain, mx };
}
