/**
 * The JSON schema of a rule input and the mapping of ajv's errors to our {@link ErrorDetail}s.
 *
 * Every value may arrive as a string (HTTP forms, query strings), so numeric and boolean fields accept
 * both types here and are converted by `rule-input.ts`, which also performs the checks a schema cannot
 * express (IP syntax, domain names, cross-field rules).
 */
import { Ajv, type ErrorObject } from 'ajv';
import type { ErrorDetail } from './errors.js';
import { RATE_PER } from './gate-input.js';

/** Fields a rule input may carry, in the order problems are reported. */
export const RULE_FIELDS = [
  'code', 'extended', 'description', 'pool', 'mta', 'domain', 'ip', 'recipient', 'tag', 'sender', 'mx', 'cluster',
  'times', 'probability', 'expires', 'ttl', 'priority', 'phase', 'delay', 'greylist', 'rate',
  'fault', 'afterBytes', 'bytesPerSecond', 'tls',
] as const;

/** Fields a rule reports but that cannot be set. */
export const READ_ONLY_FIELDS = ['id', 'created', 'updated', 'hits'] as const;

// No control characters (C0, DEL, C1): they could inject extra SMTP reply lines or log lines.
const PRINTABLE = '^[^\\p{Cc}]*$';
const text = (maxLength: number) => ({ type: 'string', minLength: 1, maxLength, pattern: PRINTABLE });
const numeric = (pattern: string) => ({ type: ['number', 'string'], pattern });
const INTEGER = '^-?\\d+$';
const SECONDS = { type: ['integer', 'string'] };
const NUMBER = '^-?(\\d+\\.?\\d*|\\.\\d+)([eE][-+]?\\d+)?$';

const schema = {
  type: 'object',
  properties: {
    code: { ...numeric('^\\d+$'), type: ['integer', 'string'] },
    extended: { type: 'string', pattern: '^[245]\\.\\d{1,3}\\.\\d{1,3}$' },
    // Lines, ASCII and length are checked by rule-input.ts: the limit depends on `extended`.
    description: { type: ['string', 'array'] },
    pool: text(256),
    mta: text(64),
    domain: text(256),
    ip: text(64),
    recipient: text(320),
    tag: text(256),
    sender: text(320),
    mx: text(256),
    cluster: { type: ['boolean', 'string', 'integer'], enum: [true, false, 'true', 'false', '1', '0', 1, 0] },
    times: { ...numeric(INTEGER), type: ['integer', 'string'] },
    probability: numeric(NUMBER),
    expires: { type: ['number', 'string'], minLength: 1, maxLength: 64 },
    ttl: numeric(NUMBER),
    priority: { ...numeric(INTEGER), type: ['integer', 'string'] },
    phase: { type: 'string', enum: ['connect', 'mail', 'rcpt', 'data'] },
    delay: { ...numeric(INTEGER), type: ['integer', 'string'] },
    // Durations and limits are range-checked by gate-input.ts, naming the nested field.
    greylist: {
      type: ['boolean', 'string', 'object'],
      pattern: '^(true|false|1|0)$',
      properties: { delay: SECONDS, window: SECONDS, lifetime: SECONDS },
      additionalProperties: false,
    },
    rate: {
      type: 'object',
      properties: { limit: SECONDS, window: SECONDS, per: { type: 'string', enum: RATE_PER } },
      required: ['limit', 'window'],
      additionalProperties: false,
    },
    fault: { type: 'string', enum: ['disconnect', 'reset', 'hang', 'throttle', 'tls'] },
    afterBytes: { ...numeric(INTEGER), type: ['integer', 'string'] },
    bytesPerSecond: { ...numeric(INTEGER), type: ['integer', 'string'] },
    tls: { type: 'string', enum: ['unavailable', 'refuse', 'fail'] },
  },
  additionalProperties: false,
} as const;

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, unicodeRegExp: true });
const validateInput = ajv.compile(schema);
// A stored rule also carries the fields the engine sets; `restoreRule` checks those itself, so a stored
// rule is validated as it is, without first being copied minus those fields.
const validateStored = ajv.compile({ ...schema, properties: { ...schema.properties, id: true, created: true, updated: true, hits: true, revision: true } });

const EXPECTED: Record<string, string> = {
  code: 'an integer SMTP reply code',
  extended: 'an enhanced status code of the form class.subject.detail, e.g. 5.7.1',
  description: 'a line of reply text or an array of lines (a multi-line reply)',
  cluster: 'true or false',
  times: 'an integer',
  probability: 'a number',
  expires: 'an ISO-8601 date or epoch seconds',
  ttl: 'a number of seconds',
  priority: 'an integer',
  phase: 'one of connect, mail, rcpt, data',
  delay: 'an integer number of milliseconds',
  greylist: 'true, false, or an object with delay, window and lifetime in seconds',
  rate: 'an object with limit, window (seconds) and optionally per',
  'rate.per': `one of ${RATE_PER.join(', ')}`,
  'rate.limit': 'an integer',
  'rate.window': 'an integer number of seconds',
  'greylist.delay': 'an integer number of seconds',
  'greylist.window': 'an integer number of seconds',
  'greylist.lifetime': 'an integer number of seconds',
  fault: 'one of disconnect, reset, hang, throttle, tls',
  afterBytes: 'an integer number of message octets',
  bytesPerSecond: 'an integer number of octets per second',
  tls: 'one of unavailable, refuse, fail',
};

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const next = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = row[j]!;
      row[j] = next;
    }
  }
  return row[b.length]!;
}

function unknownField(name: string): ErrorDetail {
  if ((READ_ONLY_FIELDS as readonly string[]).includes(name)) {
    return { code: 'read_only', message: `${name} is set by the engine and cannot be written`, param: name };
  }
  const guess = RULE_FIELDS.find((field) => distance(field, name) <= 2);
  const hint = guess ? `; did you mean "${guess}"?` : '';
  return { code: 'unknown_field', message: `unknown field "${name}"${hint}`, param: name };
}

function toDetail(error: ErrorObject): ErrorDetail {
  // Nested fields are named with a dot: `rate.per`, `greylist.delay`.
  const param = error.instancePath.slice(1).replaceAll('/', '.');
  if (error.keyword === 'additionalProperties') {
    const name = String((error.params as { additionalProperty: string }).additionalProperty);
    if (param !== '') return { code: 'unknown_field', message: `unknown field "${name}" in ${param}`, param: `${param}.${name}` };
    return unknownField(name);
  }
  if (error.keyword === 'required') {
    const name = `${param}.${String((error.params as { missingProperty: string }).missingProperty)}`;
    return { code: 'required', message: `${name} is required`, param: name };
  }
  const expected = EXPECTED[param] ?? 'a non-empty string without control characters';
  switch (error.keyword) {
    case 'type':
      return { code: 'invalid_type', message: `${param} must be ${expected}`, param };
    case 'minLength':
      return { code: 'invalid_format', message: `${param} must not be empty`, param };
    case 'maxLength':
      return { code: 'out_of_range', message: `${param} must be at most ${String(error.params['limit'])} characters`, param };
    case 'pattern':
      return PRINTABLE === error.params['pattern']
        ? { code: 'invalid_format', message: `${param} must not contain control characters (CR, LF, NUL, ...)`, param }
        : { code: 'invalid_format', message: `${param} must be ${expected}`, param };
    default:
      return { code: 'invalid_format', message: `${param} must be ${expected}`, param };
  }
}

/** Sorts problems in {@link RULE_FIELDS} order (stable); problems of unknown fields come last. */
export function sortByField(details: ErrorDetail[]): ErrorDetail[] {
  const order = (p: string | undefined) => {
    const i = (RULE_FIELDS as readonly string[]).indexOf(p?.split('.')[0] ?? '');
    return i === -1 ? RULE_FIELDS.length : i;
  };
  return details.sort((a, b) => order(a.param) - order(b.param));
}

/**
 * Validates the shape of a rule input (`stored`: a stored rule, which may also carry the read-only
 * fields and `revision`). Returns one detail per offending field (the first problem ajv found for it).
 */
export function schemaProblems(input: object, stored = false): ErrorDetail[] {
  const validate = stored ? validateStored : validateInput;
  if (validate(input)) return [];
  const byField = new Map<string, ErrorDetail>();
  for (const error of validate.errors ?? []) {
    const detail = toDetail(error);
    const key = detail.param ?? '';
    // ajv reports an enum failure alongside a type failure for the same value; keep the first.
    if (!byField.has(key)) byField.set(key, detail);
  }
  return [...byField.values()];
}
