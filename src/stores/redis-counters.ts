/**
 * Rule counters of `RedisStore`: saving a batch of deltas in scripts of bounded size, and reading the
 * saved counts back onto loaded rules. Counters live in hashes of their own (`<prefix>:hits`,
 * `<prefix>:used`; see `redis-scripts.ts`), so saving them never rewrites a rule.
 */
import { type CounterDelta, type RuleJSON, SmtpInterceptError, StoreOutcomeUnknownError } from '../index.js';
import { scanHash, type SnapshotSource } from './redis-snapshot.js';

/**
 * Deltas per counter script: each script blocks Redis while it runs (a `cjson.decode` and a few hash
 * writes per delta), so a batch of any size is split into scripts of a bounded run time.
 */
export const MAX_COUNTER_DELTAS = 1000;

/** A delta's counts go to Redis as integers: anything else would fail its script. */
function checkDelta(delta: CounterDelta): void {
  for (const field of ['hits', 'used'] as const) {
    const n = delta[field];
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new SmtpInterceptError('invalid_counters', `saving counters of rule ${delta.id}: ${field} must be a non-negative integer, got ${String(n)}`);
    }
  }
}

/**
 * Saves `deltas` with one call of `run` per {@link MAX_COUNTER_DELTAS} (its arguments: id, revision,
 * hits, used per delta; it resolves to the positions, from 1, of the deltas whose hits it did not
 * count). `run` is called for every script before any is awaited, so they go out back to back, in
 * their place among the store's writes. `shared` hears of every delta sent (`1`), and of every delta
 * whose hits then certainly were not counted (`-1`). Rejects with the scripts' own error only when
 * every script certainly failed (nothing recorded: the caller may repeat the batch); when some were or
 * may have been applied and others failed, with `StoreOutcomeUnknownError` (repeating could count twice).
 */
export async function saveInScripts(deltas: readonly CounterDelta[], run: (args: string[]) => Promise<unknown>, shared: (delta: CounterDelta, sign: 1 | -1) => void): Promise<void> {
  for (const d of deltas) checkDelta(d);
  for (const d of deltas) shared(d, 1);
  const scripts: Promise<void>[] = [];
  for (let start = 0; start < deltas.length; start += MAX_COUNTER_DELTAS) {
    const chunk = deltas.slice(start, start + MAX_COUNTER_DELTAS);
    const args: string[] = [];
    for (const d of chunk) args.push(d.id, d.revision, String(d.hits), String(d.used));
    scripts.push(run(args).then((ignored) => {
      for (const n of ignored as number[]) shared(chunk[n - 1]!, -1);
    }, (err: unknown) => {
      if (!(err instanceof StoreOutcomeUnknownError)) for (const d of chunk) shared(d, -1);
      throw err;
    }));
  }
  const outcomes = await Promise.allSettled(scripts);
  const failed = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (failed.length === 0) return;
  const first = failed[0]!.reason as Error;
  if (failed.length === outcomes.length && failed.every((o) => !(o.reason instanceof StoreOutcomeUnknownError))) throw first;
  throw new StoreOutcomeUnknownError(`saving counters: ${failed.length} of ${outcomes.length} scripts failed (${first.message}); part of the batch may be recorded, so repeating it could count twice`, { cause: first });
}

/** A stored rule with the counters saved for it. */
function withSavedCounters(rule: RuleJSON, hits: string | undefined, used: string | undefined): RuleJSON {
  if (hits === undefined && (used === undefined || rule.times === undefined)) return rule;
  const counted: RuleJSON = { ...rule };
  if (hits !== undefined) counted.hits = Number(hits);
  if (used !== undefined && rule.times !== undefined) counted.times = rule.times - Number(used);
  return counted;
}

/**
 * Reads the saved counters and applies them to `rules` in place. Read after the rules: counters only
 * grow, so a later read is at worst more recent.
 */
export async function applySavedCounters(source: SnapshotSource, keys: { hits: string; used: string }, rules: RuleJSON[]): Promise<void> {
  const hits = new Map<string, string>();
  const used = new Map<string, string>();
  await scanHash(source, keys.hits, (id, n) => hits.set(id, n));
  await scanHash(source, keys.used, (id, n) => used.set(id, n));
  if (hits.size === 0 && used.size === 0) return;
  for (let i = 0; i < rules.length; i++) rules[i] = withSavedCounters(rules[i]!, hits.get(rules[i]!.id), used.get(rules[i]!.id));
}
