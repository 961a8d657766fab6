/**
 * The restore fast path: a stored rule in the form the engine writes (`Rule.toJSON()`: numbers as
 * numbers, `cluster` a boolean, no gate or fault fields) read straight into a {@link RuleSpec}, in one
 * pass over its keys, without the general path's schema run, per-call closures and problem lists.
 *
 * It never refuses anything: on any value it does not accept exactly as the general path would, it
 * answers `undefined` and the caller runs `parseRuleInput`, which accepts or refuses with its usual
 * errors. So it can only be wrong by accepting what `parseRuleInput` refuses, or by building a different
 * spec; `test/stored-spec.property.test.ts` pins both against `parseRuleInput` on valid and broken rules.
 *
 * Measured at 1,000,000 stored rules: the general path cost about 3 µs per rule (schema, closures,
 * problem lists and the garbage they leave), most of a start-up's validation.
 */
import { parseAddress, parseRuleDomain, parseSender, type ParsedAddress, type ParsedDomain, type ParsedSender } from './domain.js';
import { parseCidr, parseIp, type ParsedCidr } from './ip.js';
import { replyTextProblem } from './reply.js';
import { MAX_TTL_SECONDS, type Phase, type RuleSpec } from './rule-input.js';

/** The keys the fast path reads (with the engine's own fields). */
const FIELDS: ReadonlySet<string> = new Set(['id', 'created', 'updated', 'hits', 'revision', 'code', 'extended', 'description', 'pool', 'mta',
  'domain', 'ip', 'recipient', 'tag', 'sender', 'mx', 'cluster', 'times', 'probability', 'expires', 'priority', 'phase', 'delay']);
/** What the schema refuses in a text field (`\p{Cc}`: C0 controls, DEL and C1 controls). */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const EXTENDED = /^[245]\.\d{1,3}\.\d{1,3}$/;
/** The default enhanced code of each reply class: what a description's length is checked against. */
const DEFAULT_EXTENDED = ['', '', '2.0.0', '', '4.0.0', '5.0.0'] as const;

/**
 * A text field as the schema accepts it, or `undefined`. A string longer than `max` UTF-16 units may
 * still fit in `max` code points (the schema counts code points): that rare case goes the general way.
 */
function text(value: unknown, max: number): string | undefined {
  return typeof value === 'string' && value.length >= 1 && value.length <= max && !CONTROL.test(value) ? value : undefined;
}

const integerIn = (value: unknown, min: number, max: number): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;

const digit = (text: string, at: number): number => {
  const d = text.charCodeAt(at) - 48;
  return d >= 0 && d <= 9 ? d : NaN;
};
const digits = (text: string, at: number, count: number): number => {
  let n = 0;
  for (let i = 0; i < count; i++) n = n * 10 + digit(text, at + i);
  return n;
};

/**
 * Epoch milliseconds of a timestamp in `toISOString()`'s form (`2026-01-02T03:04:05.678Z`) with its
 * fields in range, or `NaN` for any other text. Where it answers a number, `Date.parse` answers the same
 * (`test/startup.test.ts`): `Date.UTC` reads years 0-99 as 1900-1999, so those are left to `Date.parse`.
 */
export function canonicalTime(text: string): number {
  if (text.length !== 24 || text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45 || text.charCodeAt(10) !== 84
    || text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58 || text.charCodeAt(19) !== 46 || text.charCodeAt(23) !== 90) {
    return NaN;
  }
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  const hour = digits(text, 11, 2);
  const minute = digits(text, 14, 2);
  const second = digits(text, 17, 2);
  if (!(year >= 100 && month >= 1 && month <= 12 && day >= 1 && day <= 31 && hour <= 23 && minute <= 59 && second <= 59)) return NaN;
  return Date.UTC(year, month - 1, day, hour, minute, second, digits(text, 20, 3));
}

/**
 * The spec of a stored rule in the engine's own form, or `undefined` when the general path
 * (`parseRuleInput(json, now, true, true)`) must decide. `json` is a non-null, non-array object whose
 * `expires`, if any, is later than `now` (the caller drops expired rules first).
 */
export function storedSpec(json: object, now: number): RuleSpec | undefined {
  let code: number | undefined, extended: string | undefined, description: string | undefined;
  let pool: string | undefined, mta: string | undefined, tag: string | undefined, cluster = false;
  let domain: ParsedDomain | undefined, ip: ParsedCidr | undefined, recipient: ParsedAddress | undefined;
  let sender: ParsedSender | undefined, mx: ParsedDomain | undefined;
  let times: number | undefined, probability: number | undefined, expires: number | undefined;
  let priority = 0, delay = 0, phase: Phase = 'rcpt';
  let remotes = 0;
  const fields = json as Record<string, unknown>;
  // One pass over the keys: an unknown key (or one the fast path leaves alone) sends the rule the general way.
  for (const key in fields) {
    const value = fields[key];
    // The schema treats a known property holding `undefined` as absent (only a stored object, never JSON,
    // has one); an unknown key is refused whatever it holds.
    if (value === undefined) {
      if (FIELDS.has(key)) continue;
      return undefined;
    }
    switch (key) {
      case 'id': case 'created': case 'updated': case 'hits': case 'revision':
        continue; // the engine's fields: checked by the caller
      case 'code':
        if (!integerIn(value, 200, 599) || (value >= 300 && value < 400)) return undefined;
        code = value;
        continue;
      case 'extended':
        if (typeof value !== 'string' || !EXTENDED.test(value)) return undefined;
        extended = value;
        continue;
      case 'description':
        // A multi-line reply (an array) is rare: the general path freezes its copy.
        if (typeof value !== 'string') return undefined;
        description = value;
        continue;
      case 'pool':
        if ((pool = text(value, 256)) === undefined) return undefined;
        continue;
      case 'mta':
        if ((mta = parseIp(text(value, 64) ?? '')?.text) === undefined) return undefined;
        continue;
      case 'domain': {
        const parsed = parseRuleDomain(text(value, 256) ?? '');
        if ('problem' in parsed) return undefined;
        domain = parsed;
        remotes++;
        continue;
      }
      case 'ip': {
        const parsed = parseCidr(text(value, 64) ?? '');
        if (typeof parsed === 'string') return undefined;
        ip = parsed;
        remotes++;
        continue;
      }
      case 'recipient': {
        const parsed = parseAddress(text(value, 320) ?? '');
        if ('problem' in parsed) return undefined;
        recipient = parsed;
        remotes++;
        continue;
      }
      case 'tag':
        if ((tag = text(value, 256)) === undefined) return undefined;
        continue;
      case 'sender': {
        const parsed = parseSender(text(value, 320) ?? '');
        if ('problem' in parsed) return undefined;
        sender = parsed;
        continue;
      }
      case 'mx': {
        const parsed = parseRuleDomain(text(value, 256) ?? '');
        if ('problem' in parsed) return undefined;
        mx = parsed;
        continue;
      }
      case 'cluster':
        if (typeof value !== 'boolean') return undefined;
        cluster = value;
        continue;
      case 'times':
        if (!integerIn(value, 1, Number.MAX_SAFE_INTEGER)) return undefined;
        times = value;
        continue;
      case 'probability':
        if (typeof value !== 'number' || !(value > 0 && value <= 1)) return undefined;
        probability = value;
        continue;
      case 'expires':
        // The caller checked it is later than `now`; the horizon is the general path's to report.
        if (typeof value !== 'string' || !((expires = canonicalTime(value)) > now && expires <= now + MAX_TTL_SECONDS * 1000)) return undefined;
        continue;
      case 'priority':
        if (!integerIn(value, -1_000_000, 1_000_000)) return undefined;
        priority = value;
        continue;
      case 'phase':
        if (value !== 'rcpt' && value !== 'data' && value !== 'mail' && value !== 'connect') return undefined;
        phase = value;
        continue;
      case 'delay':
        if (!integerIn(value, 0, 600_000)) return undefined;
        delay = value;
        continue;
      default:
        return undefined; // gates, faults, ttl, unknown fields: the general path
    }
  }
  if (code === undefined || remotes > 1 || (pool !== undefined && mta !== undefined)) return undefined;
  const reply = extended ?? DEFAULT_EXTENDED[Math.floor(code / 100)]!;
  if (extended !== undefined && extended.charCodeAt(0) !== 48 + Math.floor(code / 100)) return undefined;
  // `""` stands for the default text.
  if (description === '') description = undefined;
  else if (description !== undefined && replyTextProblem(description, 'description', reply) !== undefined) return undefined;
  return {
    code, extended, description, pool, mta, domain, ip, recipient, tag, sender, mx, cluster,
    times, probability, expires, priority, phase, delay, greylist: undefined, rate: undefined, fault: undefined,
  };
}
