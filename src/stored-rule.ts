/**
 * Turns a stored rule (its JSON form, from a file, Redis or another instance) back into a `Rule`,
 * through the same validation as `add`, so a store can never inject a rule `add` would refuse.
 *
 * This runs once per stored rule at start-up (a million times for a million rules), so it reads the
 * engine's own form through a fast path (`stored-spec.ts`, falling back to `add`'s validation for
 * anything else), checks the id against the digest without building a second id string, and reads the
 * engine's own timestamp format without `Date.parse`.
 */
import { ValidationError } from './errors.js';
import { parseRuleInput } from './rule-input.js';
import { canonicalTime, storedSpec } from './stored-spec.js';
import { Rule, type RuleJSON } from './rule.js';
import { isRuleId, ruleId } from './rule-id.js';

/**
 * Epoch milliseconds of an ISO-8601 date. The engine writes `toISOString()`'s form
 * (`2026-01-02T03:04:05.678Z`), read here digit by digit; anything else goes to `Date.parse`.
 */
export function isoTime(text: string): number {
  const ms = canonicalTime(text);
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
  if (typeof expires === 'string' && isoTime(expires) <= now) return undefined;
  // The engine's own form takes the fast path (stored-spec.ts); anything else, valid or not, the general one.
  let spec = storedSpec(json, now);
  if (spec === undefined) {
    try {
      spec = parseRuleInput(json, now, true, true);
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      throw new ValidationError(err.details.map((d) => ({ ...d, message: `${labelOf(id)}: ${d.message}` })), { cause: err });
    }
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
