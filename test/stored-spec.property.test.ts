// The restore fast path (src/stored-spec.ts) against the general one (`parseRuleInput` of a stored rule):
// whenever the fast path answers, the general path accepts the same rule and builds the same spec; on the
// engine's own form it always answers. Rules are what the engine writes, then broken one field at a time.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ValidationError } from '../src/errors.js';
import { parseRuleInput, type RuleInput, type RuleSpec } from '../src/rule-input.js';
import { Rule, type RuleJSON } from '../src/rule.js';
import { ruleId } from '../src/rule-id.js';
import { restoreRule } from '../src/stored-rule.js';
import { storedSpec } from '../src/stored-spec.js';

const NOW = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
const opt = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

const inputArb: fc.Arbitrary<RuleInput> = fc.record({
  code: fc.constantFrom(250, 421, 450, 550, 599, 200),
  extended: opt(fc.constantFrom('4.7.1', '5.1.1', '2.0.0', '5.999.999')),
  description: opt(fc.constantFrom('', 'no such user', 'x'.repeat(494), ['line one', 'line two'])),
  side: fc.constantFrom('pool', 'mta', 'none'),
  remote: fc.constantFrom('domain', 'ip', 'recipient', 'none'),
  domain: fc.constantFrom('a.example', '*.b.example', 'BÜCHER.example', '__proto__.net', 'Trailing.Dot.'),
  ip: fc.constantFrom('192.0.2.1', '192.0.2.0/24', '2001:DB8::1', '::ffff:192.0.2.1', '2001:db8::/32'),
  recipient: fc.constantFrom('Ann@a.example', 'x@b.example'),
  tag: opt(fc.constantFrom('t1', '__proto__', 'constructor')),
  sender: opt(fc.constantFrom('<>', 'b@a.example', 'a.example', '*.a.example')),
  mx: opt(fc.constantFrom('mx.a.example', '*.google.com')),
  cluster: fc.boolean(),
  times: opt(fc.constantFrom(1, 5, Number.MAX_SAFE_INTEGER)),
  probability: opt(fc.constantFrom(0.5, 1, 1e-9)),
  ttl: opt(fc.constantFrom(1, 86_400, 99 * 365 * 86_400)),
  priority: opt(fc.constantFrom(-1_000_000, 0, 7, 1_000_000)),
  phase: opt(fc.constantFrom('connect', 'mail', 'rcpt', 'data')),
  delay: opt(fc.constantFrom(0, 10, 600_000)),
  gate: fc.constantFrom('none', 'none', 'greylist', 'rate', 'fault'),
}).map((r) => {
  const input: RuleInput = { code: r.code, cluster: r.cluster };
  if (r.side === 'pool') input.pool = 'pool-1';
  if (r.side === 'mta') input.mta = '10.0.0.1';
  if (r.remote !== 'none') input[r.remote] = r[r.remote];
  for (const k of ['extended', 'description', 'tag', 'sender', 'mx', 'times', 'probability', 'ttl', 'priority', 'phase', 'delay'] as const) {
    if (r[k] !== undefined) (input as Record<string, unknown>)[k] = r[k];
  }
  if (r.gate === 'greylist') { input.greylist = true; delete input.probability; }
  if (r.gate === 'rate') { input.rate = { limit: 3, window: 60 }; delete input.probability; }
  if (r.gate === 'fault') { delete input.code; delete input.extended; delete input.description; input.fault = 'hang'; }
  return input;
});

/** What the engine stores for `input`, or `undefined` when `add` refuses it. */
function stored(input: RuleInput): RuleJSON | undefined {
  let spec: RuleSpec;
  try {
    spec = parseRuleInput(input, NOW);
  } catch {
    return undefined;
  }
  return { ...new Rule(spec, ruleId(spec), NOW - 1000, NOW, 3).toJSON(), revision: 'r.1' };
}

// Values the schema or the parsers refuse, values only the general path reads (strings for numbers), and edge values.
const HOSTILE: readonly unknown[] = [
  undefined, null, '', ' ', '550', '1', 'true', 0, -1, 1.5, 300, 399, 600, 1e21, Number.MAX_SAFE_INTEGER + 2, true, false, [], ['a'], {}, { a: 1 },
  'a\u0000b', 'line\r\nINJECT', 'x\u0085y', 'é', '\u{1F600}'.repeat(200), 'a'.repeat(257), 'a'.repeat(321), '999.999.999.999', '192.0.2.0/33',
  '*.', '*.com', 'a@', '@b', '<>', '2026-01-02T03:04:05.678Z', '2126-01-02T03:04:05.678Z', '0099-01-02T03:04:05.678Z', '2026-13-02T03:04:05.678Z',
  '2027-01-02T03:04:05Z', '1767323045', 'connect', 'rcpt', 'DATA', '4.7.1', '5.1.1', '2.0.0', '6.0.0', 'x '.repeat(300), 'ends with space ',
];
const FIELDS = ['code', 'extended', 'description', 'pool', 'mta', 'domain', 'ip', 'recipient', 'tag', 'sender', 'mx', 'cluster', 'times',
  'probability', 'expires', 'ttl', 'priority', 'phase', 'delay', 'greylist', 'rate', 'fault', 'afterBytes', 'bytesPerSecond', 'tls',
  'unknown', 'Code', '__proto__', 'constructor', 'toString'];

const brokenArb = fc.tuple(inputArb, fc.array(fc.tuple(fc.constantFrom(...FIELDS), fc.constantFrom(...HOSTILE)), { minLength: 1, maxLength: 3 }))
  .map(([input, edits]) => {
    const json = stored(input);
    if (!json) return undefined;
    // Through JSON, as a file or Redis gives it (a `__proto__` key becomes an own property there).
    const text = JSON.stringify(json);
    const parsed = JSON.parse(text) as Record<string, unknown>;
    for (const [field, value] of edits) Object.defineProperty(parsed, field, { value, enumerable: true, writable: true, configurable: true });
    return parsed;
  });

/** The general path's answer: a spec, or the problems it reports. */
function general(json: object): RuleSpec | string {
  try {
    return parseRuleInput(json, NOW, true, true);
  } catch (err) {
    if (err instanceof ValidationError) return err.details.map((d) => d.message).join('; ');
    throw err;
  }
}

describe('stored-rule fast path', () => {
  it('reads every rule the engine writes, into the spec the general path builds', () => {
    let fast = 0;
    fc.assert(fc.property(inputArb, (input) => {
      const json = stored(input);
      if (!json) return;
      const spec = storedSpec(json, NOW);
      const gated = input.greylist !== undefined || input.rate !== undefined || input.fault !== undefined || Array.isArray(input.description);
      if (!gated) {
        assert.ok(spec, `the engine's own form goes the fast way: ${JSON.stringify(json)}`);
        fast++;
      }
      if (spec) assert.deepEqual(spec, general(json));
    }), { seed: 20261202, numRuns: 5_000 });
    assert.ok(fast > 500, `fast path taken ${fast} times`);
  });

  it('never accepts what the general path refuses, and never builds another spec', () => {
    let refused = 0, fast = 0;
    fc.assert(fc.property(brokenArb, (json) => {
      if (!json) return;
      const spec = storedSpec(json, NOW);
      const want = general(json);
      if (typeof want === 'string') refused++;
      if (spec) fast++;
      if (spec) assert.deepEqual(spec, want, JSON.stringify(json));
    }), { seed: 20261203, numRuns: 20_000 });
    assert.ok(refused > 1_000 && fast > 100, `broken rules refused: ${refused}; taken the fast way: ${fast}`);
  });

  it('reports a broken stored rule exactly as before: by the general path, naming the rule', () => {
    const json = stored({ domain: 'a.example', code: 550 })!;
    assert.throws(() => restoreRule({ ...json, code: '354' }, NOW), /^ValidationError: stored rule \w{20}: code must be 200-299, 400-499 or 500-599 \(got 354\)$/m);
    assert.throws(() => restoreRule({ ...json, pool: 'p', mta: '10.0.0.1' }, NOW), /stored rule \w{20}: pool and mta may not be used together/);
    assert.throws(() => restoreRule({ ...json, extra: undefined }, NOW), /stored rule \w{20}: unknown field "extra"/);
  });
});
