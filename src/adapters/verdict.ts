/**
 * @internal When rules apply in a receiving server (the fake MX, `interceptServerOptions`): one place
 * for the decision at the end of DATA, shared by both. docs/rules.md "When a rule applies" says it in prose.
 */
import type { Attempt, ForcedResult, Interceptor } from '../index.js';

const failing = (r: ForcedResult | undefined): boolean => r !== undefined && r.outcome !== 'accepted';

/**
 * Whether a receiving server keeps a message its verdict is `r` for: accepted ones, and those it
 * received whole before a fault (a drop or hang before the final reply is how duplicates are made: the
 * server has the message, the client retries). A message cut mid-DATA never reached the verdict.
 */
export const keepsMessage = (r: ForcedResult | undefined): boolean => r === undefined || r.outcome === 'accepted' || r.fault !== undefined;

/**
 * The one reply to a message (RFC 5321 §4.1.1.4: a single reply for all its recipients). For each
 * accepted recipient in order: the `data`-phase rules (with every tag), then the `rcpt`-phase rules
 * selecting a tag that only the header carried (see {@link lateTagged}). The first failure decides;
 * otherwise the first forced 2xx; otherwise `undefined` (accept). A recipient in `decided` had its
 * `data`-phase check already (at the DATA command, for a mid-message cut): its result is used, not
 * checked again, so no rule is counted or drawn twice.
 */
export function messageVerdict(interceptor: Interceptor, base: Pick<Attempt, 'mta' | 'ip' | 'sender' | 'mx' | 'tls'>, recipients: readonly string[], envelopeTags: readonly string[], headerTags: readonly string[], decided?: ReadonlyMap<string, ForcedResult | undefined>): ForcedResult | undefined {
  const late = headerTags.filter((tag) => !envelopeTags.includes(tag));
  const tags = [...envelopeTags, ...late];
  let verdict: ForcedResult | undefined;
  for (const recipient of recipients) {
    let result = decided?.has(recipient) === true ? decided.get(recipient) : interceptor.check({ ...base, recipient, tags, phase: 'data' });
    if (!failing(result) && late.length > 0) result = lateTagged(interceptor, { ...base, recipient, tags: late, phase: 'rcpt' }) ?? result;
    if (failing(result)) return result;
    verdict ??= result;
  }
  return verdict;
}

/**
 * A `rcpt`-phase rule (the default phase) that selects a tag is checked where its tag is known: at RCPT
 * for a MAIL FROM extension tag, at the end of DATA for a header tag. `attempt.tags` holds only the
 * header's new tags, so every tag rule among its candidates is one RCPT could not see; every rule
 * without a tag was already decided at RCPT and must not be counted (`times`) or drawn (`probability`)
 * twice. So `check` runs only when it cannot reach such a rule: the candidates start with tag rules and
 * one of them is certain (no `probability`), or nothing else matches.
 */
function lateTagged(interceptor: Interceptor, attempt: Attempt): ForcedResult | undefined {
  const { candidates } = interceptor.explain(attempt);
  const untagged = candidates.findIndex((rule) => rule.tag === undefined);
  const tagged = untagged === -1 ? candidates : candidates.slice(0, untagged);
  if (tagged.length === 0) return undefined;
  const certain = tagged.some((rule) => (rule.probability === undefined || rule.probability >= 1) && rule.remaining !== 0);
  return untagged === -1 || certain ? interceptor.check(attempt) : undefined;
}
