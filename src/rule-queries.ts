/**
 * The read-only questions an interceptor answers about its rule set: listing, paging, and which rules an
 * attempt matches. None changes anything; a rule past its `expires` that no sweep has removed yet is
 * left out, as `check` would skip it.
 */
import { type Attempt, normalizeAttempt } from './attempt.js';
import type { GateExplanation, GateState } from './gate-state.js';
import type { Explanation } from './interceptor-types.js';
import type { Rule } from './rule.js';
import { parseFilter, type RuleFilter } from './rule-filter.js';
import type { RuleIndex } from './rule-index.js';
import { type PageOptions, parsePage, type RulePage } from './rule-page.js';

/**
 * Whether `rule` is active at `now` (expired rules stay installed until a sweep removes them).
 *
 * @example
 * ```ts
 * isLive(rule, Date.now()) // false once rule.expires has passed
 * ```
 */
export function isLive(rule: Rule, now: number): boolean {
  return rule.expires === undefined || rule.expires > now;
}

/**
 * `Interceptor.list`: the active rules in insertion order, optionally filtered.
 *
 * @example
 * ```ts
 * listRules(index, { domain: 'gmail.com' }, Date.now())
 * ```
 * @throws {ValidationError} for a bad filter.
 */
export function listRules(index: RuleIndex, filter: RuleFilter | undefined, now: number): Rule[] {
  const terms = parseFilter(filter, now);
  if (terms.length === 0) {
    const out: Rule[] = [];
    for (const rule of index.values()) if (isLive(rule, now)) out.push(rule);
    return out;
  }
  const live = (rule: Rule) => isLive(rule, now);
  return index.catalog.select(terms, undefined, Infinity, live).sort((a, b) => a.seq - b.seq);
}

/**
 * `Interceptor.listPage`: one page of the active rules in id order, with the cursor of the next.
 *
 * @example
 * ```ts
 * listRulePage(index, undefined, { limit: 100 }, Date.now()).next
 * ```
 * @throws {ValidationError} for a bad filter, `limit` or `startingAfter`, naming the field.
 */
export function listRulePage(index: RuleIndex, filter: RuleFilter | undefined, page: PageOptions, now: number): RulePage {
  const { limit, startingAfter } = parsePage(page);
  const live = (rule: Rule) => isLive(rule, now);
  // One rule more than the page tells whether there is a next page, so the last page has no cursor.
  const rules = index.catalog.select(parseFilter(filter, now), startingAfter, limit + 1, live);
  const more = rules.length > limit;
  if (more) rules.pop();
  return { rules, next: more ? rules[rules.length - 1]!.id : undefined };
}

/**
 * `Interceptor.explain`: the active candidates of an attempt in precedence order, the winner, and the
 * state of their greylisting and rate gates. `gates` makes the gate state on first use, as `check` does.
 *
 * @example
 * ```ts
 * explainAttempt(index, { recipient: 'bob@gmail.com' }, Date.now(), () => gates).winner?.id
 * ```
 * @throws {ValidationError} when the attempt is malformed.
 */
export function explainAttempt(index: RuleIndex, attempt: Attempt, now: number, gates: () => GateState): Explanation {
  const candidates = index.candidates(normalizeAttempt(attempt)).filter((r) => isLive(r, now));
  const explained: GateExplanation[] = [];
  for (const rule of candidates) {
    const gate = rule.greylist !== undefined || rule.rate !== undefined ? gates().explain(rule, attempt, now) : undefined;
    if (gate !== undefined) explained.push(gate);
  }
  // A cluster rule waiting for a budget reservation here (`times` 0) is a candidate that cannot win.
  return { winner: candidates.find((r) => r.remaining !== 0), candidates, gates: explained };
}
