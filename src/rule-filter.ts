/**
 * Filters for `Interceptor.list` and `GET /v1/errors`: exact equality on canonical selector values.
 */
import { ValidationError } from './errors.js';
import { parseRuleInput, type SelectorFields } from './rule-input.js';
import type { Rule } from './rule.js';

/**
 * Selects rules by selector values, compared in canonical form: `{ domain: 'Gmail.COM' }` lists the rule
 * for `gmail.com`; `{ domain: '*.example.com' }` lists that wildcard rule (not the rules it would match).
 */
export interface RuleFilter extends SelectorFields {
  /** `true`/`'true'`/`'1'` for cluster rules only, `false`/`'false'`/`'0'` for instance rules only. */
  cluster?: boolean | string;
}

/** @internal The fields a filter may name, each indexed by the listing catalog. */
export const FILTER_FIELDS = ['pool', 'mta', 'domain', 'ip', 'recipient', 'tag', 'sender', 'mx', 'cluster'] as const;

/** @internal A filter field with its value in the canonical form the rule holds. */
export type FilterTerm = readonly [field: (typeof FILTER_FIELDS)[number], value: string | boolean];

/** @internal Parses a filter to its terms; throws a {@link ValidationError} for bad fields or values. */
export function parseFilter(filter: RuleFilter | undefined, now: number): FilterTerm[] {
  if (filter === undefined) return [];
  const unknown = Object.keys(filter).filter((k) => !(FILTER_FIELDS as readonly string[]).includes(k));
  if (unknown.length > 0) {
    throw new ValidationError(unknown.map((k) => ({
      code: 'unknown_field',
      message: `cannot filter on "${k}"; filter fields are ${FILTER_FIELDS.join(', ')}`,
      param: k,
    })));
  }
  // The same parser as add, so the filter values are normalised exactly as rule values are. Mutual
  // exclusion does not apply to a filter (it simply matches nothing), so fields are parsed one by one.
  const terms: FilterTerm[] = [];
  const problems = [];
  for (const field of FILTER_FIELDS) {
    const value = filter[field];
    if (value === undefined) continue;
    try {
      const spec = parseRuleInput({ [field]: value }, now, false);
      const canonical = field === 'domain' ? spec.domain?.text
        : field === 'ip' ? spec.ip?.text
          : field === 'recipient' ? spec.recipient?.text
            : field === 'sender' ? spec.sender?.text
              : field === 'mx' ? spec.mx?.text
                : spec[field];
      terms.push([field, canonical!]);
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      problems.push(...err.details);
    }
  }
  if (problems.length > 0) throw new ValidationError(problems);
  return terms;
}

/** @internal Whether `rule` has every term's value. */
export function matchesTerms(rule: Rule, terms: readonly FilterTerm[]): boolean {
  for (const [field, value] of terms) if (rule[field] !== value) return false;
  return true;
}
