/**
 * Turns a stored rule (its JSON form, from a file, Redis or another instance) back into a `Rule`,
 * through the same validation as `add`, so a store can never inject a rule `add` would refuse.
 */
import { ValidationError } from './errors.js';
import { parseRuleInput } from './rule-input.js';
import { Rule, type RuleJSON, ruleId } from './rule.js';

function timestamp(value: unknown, field: string, problems: string[]): number {
  const ms = typeof value === 'string' ? Date.parse(value) : NaN;
  if (Number.isNaN(ms)) problems.push(`${field} must be an ISO-8601 date`);
  return ms;
}

/**
 * The rule a stored JSON object describes, or `undefined` when it has expired by `now`.
 * @throws {ValidationError} naming the rule and every problem.
 */
export function restoreRule(json: unknown, now: number): Rule | undefined {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ValidationError([{ code: 'invalid_type', message: 'a stored rule must be an object' }]);
  }
  // `revision` identifies a stored write; it is not part of the rule.
  const { id, created, updated, hits, expires, revision, ...input } = json as RuleJSON & Record<string, unknown>;
  if (typeof expires === 'string' && Date.parse(expires) <= now) return undefined;
  const label = typeof id === 'string' ? `stored rule ${id}` : 'stored rule';
  let spec;
  try {
    spec = parseRuleInput(expires === undefined ? input : { ...input, expires }, now);
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    throw new ValidationError(err.details.map((d) => ({ ...d, message: `${label}: ${d.message}` })), { cause: err });
  }
  const problems: string[] = [];
  const createdMs = timestamp(created, 'created', problems);
  const updatedMs = timestamp(updated, 'updated', problems);
  if (!Number.isInteger(hits) || (hits as number) < 0) problems.push('hits must be an integer >= 0');
  if (revision !== undefined && typeof revision !== 'string') problems.push('revision must be a string');
  const expected = ruleId(spec);
  if (id !== expected) problems.push(`id ${String(id)} does not match its selector (expected ${expected})`);
  if (problems.length > 0) {
    throw new ValidationError(problems.map((message) => ({ code: 'invalid_format', message: `${label}: ${message}` })));
  }
  return new Rule(spec, expected, createdMs, updatedMs, hits);
}
