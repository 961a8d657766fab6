// Runs the same rules through the index and the linear reference model.
import { normalizeAttempt } from '../../src/attempt.js';
import { type Attempt, Interceptor, type Rule, type RuleInput } from '../../src/index.js';
import { LinearMatcher } from '../../src/linear-matcher.js';
import { RuleIndex } from '../../src/rule-index.js';

export interface Matcher {
  readonly name: string;
  candidates(attempt: Attempt): readonly Rule[];
}

/** Rules built through the public API (validated, normalised, upserted). */
export async function buildRules(inputs: readonly RuleInput[]): Promise<Rule[]> {
  const ic = new Interceptor();
  for (const input of inputs) await ic.add(input);
  return ic.list();
}

/** The index and the reference model loaded with the same rules. */
export function matchers(rules: readonly Rule[]): Matcher[] {
  const index = new RuleIndex();
  for (const rule of rules) index.set(rule);
  const linear = new LinearMatcher(rules);
  return [
    { name: 'RuleIndex', candidates: (a) => index.candidates(normalizeAttempt(a)) },
    { name: 'LinearMatcher', candidates: (a) => linear.candidates(normalizeAttempt(a)) },
  ];
}
