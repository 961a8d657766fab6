/**
 * Turns an untrusted rule input (object, values possibly all strings) into a normalised {@link RuleSpec},
 * or a {@link ValidationError} listing every problem at once.
 */
import { parseAddress, parseRuleDomain, parseSender, type ParsedAddress, type ParsedDomain, type ParsedSender } from './domain.js';
import {
  gateConflicts, GREYLIST_REPLY, parseGreylist, parseRate, RATE_REPLY, type GreylistInput, type GreylistSpec, type RateInput, type RateSpec,
} from './gate-input.js';
import { type ErrorDetail, ValidationError } from './errors.js';
import { type Fault, type FaultKind, parseFault, type TlsFault } from './fault.js';
import { parseCidr, parseIp, type ParsedCidr } from './ip.js';
import { MAX_REPLY_LINES, replyTextProblem } from './reply.js';
import { schemaProblems, sortByField } from './schema.js';

/** SMTP stage at which a forced reply is given. */
export type Phase = 'connect' | 'mail' | 'rcpt' | 'data';

/** The selector fields of a rule (with `cluster`, its identity). */
export interface SelectorFields {
  /** Named IP pool of the sending side. Exclusive with `mta`. */
  pool?: string;
  /** Local sending IP. Exclusive with `pool`. */
  mta?: string;
  /** Recipient domain, or `*.example.com` for every subdomain. Exclusive with `ip` and `recipient`. */
  domain?: string;
  /** Remote MX IP or CIDR range. Exclusive with `domain` and `recipient`. */
  ip?: string;
  /** One recipient address. Exclusive with `domain` and `ip`. */
  recipient?: string;
  /** Campaign tag; matches when any of the attempt's tags equals it. */
  tag?: string;
  /** Envelope sender: `bounces@example.com`, `example.com`, `*.example.com`, or `<>` (the null sender). */
  sender?: string;
  /** Host name of the MX the delivery goes to: exact, or `*.google.com` for every subdomain (never the apex). */
  mx?: string;
}

/**
 * A rule as accepted by `Interceptor.add` and the REST API. Numbers and booleans may also be given as
 * strings (`"553"`, `"true"`), as they arrive from HTTP forms. See `docs/rules.md` for every field.
 */
export interface RuleInput extends SelectorFields {
  /** Final SMTP reply code, 200-299 or 400-599. Required for `add` unless `fault` is set; optional for `remove`. */
  code?: number | string;
  /** RFC 3463 enhanced code `class.subject.detail`; class must equal the code's first digit. Default `<class>.0.0`. */
  extended?: string;
  /**
   * Reply text: printable US-ASCII, one line, or an array of lines for a multi-line reply. Each line
   * `<code>-<extended> <text>` must fit 512 octets with CRLF (at most 500 characters of text with the
   * default `extended`). An empty string means the default text.
   */
  description?: string | readonly string[];
  /** Whole cluster (`true`) or this instance only (`false`). @default false */
  cluster?: boolean | string | number;
  /** Apply to the next N matching attempts, then remove the rule. */
  times?: number | string;
  /** Apply to this fraction (0 < p <= 1) of matching attempts. */
  probability?: number | string;
  /** Stop matching at this time: ISO-8601 text or epoch seconds. Exclusive with `ttl`. */
  expires?: string | number;
  /** Stop matching this many seconds after the rule is added. Exclusive with `expires`. */
  ttl?: number | string;
  /** Explicit precedence: higher wins. @default 0 */
  priority?: number | string;
  /** SMTP stage of the forced reply. @default 'rcpt' */
  phase?: Phase;
  /** Milliseconds to wait before giving the forced reply (0-600000). @default 0 */
  delay?: number | string;
  /**
   * Greylisting: force the reply (default `451 4.7.1`) on the first attempt of each (client, sender,
   * recipient) triplet, pass a retry made late enough. `true` for postgrey's defaults. Exclusive with
   * `rate` and `probability`.
   */
  greylist?: boolean | 'true' | 'false' | GreylistInput;
  /**
   * Rate limit: force the reply (default `421 4.7.0`) only on attempts beyond `limit` within `window`
   * seconds. Exclusive with `greylist` and `probability`.
   */
  rate?: RateInput;
  /** A connection fault instead of a reply (exclusive with `code` and `extended`). See {@link Fault}. */
  fault?: FaultKind;
  /** With `disconnect`/`reset` at phase `data`: cut the message after this many octets. */
  afterBytes?: number | string;
  /** With `throttle`: octets per second of every reply from the rule's phase on. Required for it. */
  bytesPerSecond?: number | string;
  /** With `tls`: what goes wrong at STARTTLS. Required for it. */
  tls?: TlsFault;
}

/** The validated, normalised content of a rule input. */
export interface RuleSpec {
  readonly code: number | undefined;
  readonly extended: string | undefined;
  /** One line, or the frozen lines of a multi-line reply. */
  readonly description: string | readonly string[] | undefined;
  readonly pool: string | undefined;
  readonly mta: string | undefined;
  readonly domain: ParsedDomain | undefined;
  readonly ip: ParsedCidr | undefined;
  readonly recipient: ParsedAddress | undefined;
  readonly tag: string | undefined;
  readonly sender: ParsedSender | undefined;
  readonly mx: ParsedDomain | undefined;
  readonly cluster: boolean;
  readonly times: number | undefined;
  readonly probability: number | undefined;
  /** Epoch milliseconds. */
  readonly expires: number | undefined;
  readonly priority: number;
  readonly phase: Phase;
  readonly delay: number;
  readonly greylist: GreylistSpec | undefined;
  readonly rate: RateSpec | undefined;
  /** The connection fault forced instead of a reply. */
  readonly fault: Fault | undefined;
}

/** The furthest `ttl` (and `expires`) may reach: 100 years. */
export const MAX_TTL_SECONDS = 100 * 365 * 24 * 3600;

class Problems {
  readonly list: ErrorDetail[] = [];
  add(code: string, param: string, message: string): undefined {
    this.list.push({ code, message, param });
    return undefined;
  }
}

function int(value: unknown): number {
  return typeof value === 'number' ? value : Number(value);
}

function parseExpires(raw: string | number, now: number, p: Problems): number | undefined {
  let ms: number;
  if (typeof raw === 'number' || /^\d+(\.\d+)?$/.test(raw)) {
    ms = Number(raw) * 1000;
  } else {
    // ISO-8601 with a date and, when a time is given, an explicit zone: a zoneless time is ambiguous.
    if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/.test(raw)) {
      return p.add('invalid_format', 'expires', 'expires must be an ISO-8601 date (with Z or an offset when a time is given) or epoch seconds');
    }
    ms = Date.parse(raw);
  }
  if (!Number.isFinite(ms)) return p.add('invalid_format', 'expires', `expires "${String(raw)}" is not a valid date`);
  if (ms <= now) return p.add('out_of_range', 'expires', `expires ${new Date(ms).toISOString()} is in the past`);
  // The same horizon as ttl: also catches milliseconds given where seconds are expected.
  if (ms > now + MAX_TTL_SECONDS * 1000) {
    return p.add('out_of_range', 'expires', `expires "${String(raw)}" is more than 100 years ahead (epoch seconds are expected, not milliseconds)`);
  }
  return ms;
}

function parseCode(raw: number | string | undefined, p: Problems): number | undefined {
  if (raw === undefined) return undefined;
  const code = int(raw);
  if (!Number.isInteger(code) || code < 200 || code > 599 || (code >= 300 && code < 400)) {
    return p.add('out_of_range', 'code', `code must be 200-299, 400-499 or 500-599 (got ${String(raw)})`);
  }
  return code;
}

function parseNumberIn(field: string, raw: number | string | undefined, min: number, max: number, p: Problems, integer: boolean): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    return p.add('out_of_range', field, `${field} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max} (got ${String(raw)})`);
  }
  return value;
}

/** The reply text given: `""` means the default text; an array is a multi-line reply. */
function parseDescription(raw: string | readonly string[] | undefined, extended: string, p: Problems): string | readonly string[] | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw === 'string') {
    const problem = replyTextProblem(raw, 'description', extended);
    return problem ? p.add(problem.code, 'description', problem.message) : raw;
  }
  if (raw.length === 0 || raw.length > MAX_REPLY_LINES) {
    return p.add('out_of_range', 'description', `description must have 1 to ${MAX_REPLY_LINES} lines (got ${raw.length})`);
  }
  const before = p.list.length;
  raw.forEach((line: unknown, i) => {
    const name = `description[${i}]`;
    if (typeof line !== 'string') p.add('invalid_type', 'description', `${name} must be a string`);
    else if (line === '') p.add('invalid_format', 'description', `${name} must not be empty`);
    else {
      const problem = replyTextProblem(line, name, extended);
      if (problem) p.add(problem.code, 'description', problem.message);
    }
  });
  return p.list.length > before ? undefined : Object.freeze([...raw]);
}

/**
 * Validates and normalises a rule input. `requireCode` is false for `remove`, whose input names a
 * selector and may omit the reply. `now` is the clock for `ttl` and `expires`. `stored`: the input is a
 * stored rule (`RuleJSON`), whose read-only fields the caller checks.
 */
export function parseRuleInput(input: unknown, now: number, requireCode = true, stored = false): RuleSpec {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ValidationError([{ code: 'invalid_type', message: 'a rule must be a JSON object' }]);
  }
  const p = new Problems();
  p.list.push(...schemaProblems(input, stored));
  // A problem of a nested field (`rate.per`) keeps its whole field out of further checks.
  const bad = new Set(p.list.map((d) => d.param?.split('.')[0]));
  // Only fields that passed the schema are inspected further, so each field is reported once.
  const raw = input as RuleInput;
  const ok = <K extends keyof RuleInput>(k: K): RuleInput[K] | undefined => (bad.has(k) ? undefined : raw[k]);

  const greylist = parseGreylist(ok('greylist'), p.add.bind(p));
  const rate = parseRate(ok('rate'), p.add.bind(p));
  // Greylisting and rate limits have the replies real servers give; each field stays overridable.
  const gateReply = greylist !== undefined ? GREYLIST_REPLY : rate !== undefined ? RATE_REPLY : undefined;
  // A greylist or rate with a problem of its own is reported as such, not as a missing code.
  const gated = greylist !== undefined || rate !== undefined || bad.has('greylist') || bad.has('rate') || p.list.some((d) => /^(greylist|rate)\./.test(d.param ?? ''));
  const phaseRaw = ok('phase');
  const fault = parseFault({ fault: ok('fault'), afterBytes: ok('afterBytes'), bytesPerSecond: ok('bytesPerSecond'), tls: ok('tls') },
    raw, phaseRaw, (d) => p.list.push(d));
  const faulty = raw.fault !== undefined;
  if (requireCode && raw.code === undefined && !gated && !faulty) p.add('required', 'code', 'code is required (or a fault)');
  if (faulty && raw.code !== undefined) p.add('mutually_exclusive', 'code', 'a rule forces either a reply (code) or a fault, not both');
  if (faulty && raw.extended !== undefined) p.add('mutually_exclusive', 'extended', 'extended belongs to a reply; a fault has none');
  if (faulty && (raw.greylist !== undefined || raw.rate !== undefined)) {
    p.add('mutually_exclusive', 'fault', 'a fault cannot be combined with greylist or rate, which force replies');
  }
  if (faulty && raw.description !== undefined && !(raw.fault === 'tls' && raw.tls === 'refuse')) {
    p.add('mutually_exclusive', 'description', 'with a fault, description is only the text of tls refuse\'s 454 reply');
  }
  const code = faulty ? undefined : parseCode(ok('code'), p) ?? (raw.code === undefined ? gateReply?.code : undefined);
  let extended = faulty ? undefined : ok('extended') ?? (gateReply !== undefined && code !== undefined && String(code)[0] === '4' ? gateReply.extended : undefined);
  if (extended !== undefined && code !== undefined && extended[0] !== String(code)[0]) {
    extended = p.add('invalid_format', 'extended', `extended ${extended} must start with the class of code ${code} (${String(code)[0]}.x.x)`);
  }
  const description = parseDescription(ok('description') ?? (faulty ? undefined : gateReply?.description), extended ?? (faulty ? '4.7.0' : `${code === undefined ? 'x' : String(code)[0]}.0.0`), p);
  const pool = ok('pool');
  const mtaRaw = ok('mta');
  const mta = mtaRaw === undefined ? undefined : parseIp(mtaRaw)?.text ?? p.add('invalid_format', 'mta', `mta "${mtaRaw}" is not an IPv4 or IPv6 address`);
  const domainRaw = ok('domain');
  let domain: ParsedDomain | undefined;
  if (domainRaw !== undefined) {
    const parsed = parseRuleDomain(domainRaw);
    domain = 'problem' in parsed ? p.add('invalid_format', 'domain', `domain: ${parsed.problem}`) : parsed;
  }
  const ipRaw = ok('ip');
  let ip: ParsedCidr | undefined;
  if (ipRaw !== undefined) {
    const parsed = parseCidr(ipRaw);
    ip = typeof parsed === 'string' ? p.add('invalid_format', 'ip', `ip: ${parsed}`) : parsed;
  }
  const recipientRaw = ok('recipient');
  let recipient: ParsedAddress | undefined;
  if (recipientRaw !== undefined) {
    const parsed = parseAddress(recipientRaw);
    recipient = 'problem' in parsed ? p.add('invalid_format', 'recipient', `recipient: ${parsed.problem}`) : parsed;
  }
  const tag = ok('tag');
  const senderRaw = ok('sender');
  let sender: ParsedSender | undefined;
  if (senderRaw !== undefined) {
    const parsed = parseSender(senderRaw);
    sender = 'problem' in parsed ? p.add('invalid_format', 'sender', `sender: ${parsed.problem} (the null sender is "<>")`) : parsed;
  }
  const mxRaw = ok('mx');
  let mx: ParsedDomain | undefined;
  if (mxRaw !== undefined) {
    const parsed = parseRuleDomain(mxRaw);
    mx = 'problem' in parsed ? p.add('invalid_format', 'mx', `mx: ${parsed.problem}`) : parsed;
  }
  const clusterRaw = ok('cluster');
  const cluster = clusterRaw === true || clusterRaw === 'true' || clusterRaw === '1' || clusterRaw === 1;
  const times = parseNumberIn('times', ok('times'), 1, Number.MAX_SAFE_INTEGER, p, true);
  let probability = parseNumberIn('probability', ok('probability'), 0, 1, p, false);
  if (probability === 0) probability = p.add('out_of_range', 'probability', 'probability must be greater than 0 and at most 1 (got 0)');
  const ttl = parseNumberIn('ttl', ok('ttl'), 0.001, MAX_TTL_SECONDS, p, false);
  const expiresRaw = ok('expires');
  let expires = expiresRaw === undefined ? undefined : parseExpires(expiresRaw, now, p);
  if (ttl !== undefined) expires = now + Math.round(ttl * 1000);
  const priority = parseNumberIn('priority', ok('priority'), -1_000_000, 1_000_000, p, true) ?? 0;
  // A tls fault happens at STARTTLS, before any transaction: its phase is connect.
  const phase = phaseRaw ?? (raw.fault === 'tls' ? 'connect' : 'rcpt');
  const delay = parseNumberIn('delay', ok('delay'), 0, 600_000, p, true) ?? 0;

  if (raw.pool !== undefined && raw.mta !== undefined) p.add('mutually_exclusive', 'mta', 'pool and mta may not be used together');
  const remote = (['domain', 'ip', 'recipient'] as const).filter((f) => raw[f] !== undefined);
  if (remote.length > 1) p.add('mutually_exclusive', remote[1]!, `${remote.join(', ')} may not be used together: a rule selects the remote side by one of them`);
  if (raw.expires !== undefined && raw.ttl !== undefined) p.add('mutually_exclusive', 'ttl', 'expires and ttl may not be used together');
  p.list.push(...gateConflicts(raw, greylist !== undefined, raw.rate !== undefined));

  if (p.list.length > 0) throw new ValidationError(sortByField(p.list));
  return {
    code, extended, description, pool, mta, domain, ip, recipient, tag, sender, mx, cluster,
    times, probability, expires, priority, phase, delay, greylist, rate, fault,
  };
}
