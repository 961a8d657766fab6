/**
 * Turns a stored rule (its JSON form, from a file, Redis or another instance) back into a `Rule`,
 * through the same validation as `add`, so a store can never inject a rule `add` would refuse.
 *
 * This runs once per stored rule at start-up (a million times for a million rules), so it validates
 * the stored object as it is (no copy without the read-only fields), checks the id against the digest
 * without building a second id string, and reads the engine's own timestamp format without `Date.parse`.
 */
import { ValidationError } from './errors.js';
import { parseRuleInput } from './rule-input.js';
import { isRuleId, Rule, type RuleJSON, ruleId } from './rule.js';

const digit = (text: string, at: number): number => text.charCodeAt(at) - 48;
const digits = (text: string, at: number, count: number): number => {
  let n = 0;
  for (let i = 0; i < count; i++) {
    const d = digit(text, at + i);
    if (d < 0 || d > 9) return NaN;
    n = n * 10 + d;
  }
  return n;
};

/**
 * Epoch milliseconds of an ISO-8601 date. The engine writes `toISOString()`'s form
 * (`2026-01-02T03:04:05.678Z`), read here digit by digit; anything else goes to `Date.parse`.
 */
export function isoTime(text: string): number {
  if (text.length !== 24 || text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45 || text.charCodeAt(10) !== 84
    || text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58 || text.charCodeAt(19) !== 46 || text.charCodeAt(23) !== 90) {
    return Date.parse(text);
  }
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  const hour = digits(text, 11, 2);
  const minute = digits(text, 14, 2);
  const second = digits(text, 17, 2);
  // In these ranges Date.UTC and Date.parse agree (test/startup.test.ts); the rest is Date.parse's to judge
  // (Date.UTC reads years 0-99 as 1900-1999).
  if (!(year >= 100 && month >= 1 && month <= 12 && day >= 1 && day <= 31 && hour <= 23 && minute <= 59 && second <= 59)) return Date.parse(text);
  const ms = Date.UTC(year, month - 1, day, hour, minute, second, digits(text, 20, 3));
  return Number.isNaN(ms) ? Date.parse(text) : ms;
}

function timestamp(value: unknown, field: string, problems: string[]): number {
  const ms = typeof value === 'string' ? isoTime(value) : NaN;
  if (Number.isNaN(ms)) problems.push(`${field} must be an ISO-8601 date`);
  return ms;
}

const labelOf = (id: unknown): string => (typeof id === 'string' ? `stored rule ${id}` : 'stored rule');

/**
 * The rule a stored JSON object describes, or `undefined` when it has expired by `now`.
 * @throws {ValidationError} naming the rule and every problem.
 */
export function restoreRule(json: unknown, now: number): Rule | undefined {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ValidationError([{ code: 'invalid_type', message: 'a stored rule must be an object' }]);
  }
  // `revision` identifies a stored write; it is not part of the rule.
  const { id, created, updated, hits, expires, revision } = json as Partial<RuleJSON> & Record<string, unknown>;
  if (typeof expires === 'string' && Date.parse(expires) <= now) return undefined;
  let spec;
  try {
    spec = parseRuleInput(json, now, true, true);
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    throw new ValidationError(err.details.map((d) => ({ ...d, message: `${labelOf(id)}: ${d.message}` })), { cause: err });
  }
  const problems: string[] = [];
  const createdMs = timestamp(created, 'created', problems);
  const updatedMs = timestamp(updated, 'updated', problems);
  if (!Number.isInteger(hits) || (hits as number) < 0) problems.push('hits must be an integer >= 0');
  if (revision !== undefined && typeof revision !== 'string') problems.push('revision must be a string');
  if (typeof id !== 'string' || !isRuleId(spec, id)) problems.push(`id ${String(id)} does not match its selector (expected ${ruleId(spec)})`);
  if (problems.length > 0) {
    throw new ValidationError(problems.map((message) => ({ code: 'invalid_format', message: `${labelOf(id)}: ${message}` })));
  }
  return new Rule(spec, id as string, createdMs, updatedMs, hits as number);
}
