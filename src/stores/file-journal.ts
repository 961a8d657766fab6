/**
 * The `FileStore` journal format: a header line, then one JSON record per line, each a change of the
 * stored set. Replaying the records in order gives the set; a compacted file is the header plus one
 * `put` per live rule. Internal to `smtp-intercept/stores/file`.
 */
import type { RuleJSON } from '../rule.js';
import type { CounterDelta } from '../store.js';

/** The first line of every journal file; `version` 1 was 0.1.0's single JSON document. */
export const JOURNAL_HEADER = '{"format":"smtp-intercept-journal","version":2}\n';

/** One change as it is written: a rule stored, rules removed, everything removed, counters saved. */
export type JournalRecord =
  | { readonly put: RuleJSON }
  | { readonly delete: readonly string[] }
  | { readonly clear: true }
  | { readonly counters: readonly (readonly [id: string, revision: string, hits: number, used: number])[] };

/** The line a record is written as (with its newline: a record without one is torn). */
export function recordLine(record: JournalRecord): string {
  return `${JSON.stringify(record)}\n`;
}

/** The counters record of a batch of deltas (tuples keep a 1,000-rule batch small on disk). */
export function countersRecord(deltas: readonly CounterDelta[]): JournalRecord {
  return { counters: deltas.map((d) => [d.id, d.revision, d.hits, d.used] as const) };
}

/** Whether a line is the journal header (any version: a newer one is refused by `headerVersion`). */
export function headerVersion(line: string): number | undefined {
  if (!line.startsWith('{"format":"smtp-intercept-journal"')) return undefined;
  try {
    const header = JSON.parse(line) as { version?: unknown };
    return typeof header.version === 'number' ? header.version : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The record a parsed line holds, or the problem with it. Only the shape the replay relies on is
 * checked here: the rules themselves are validated by the engine when it installs them.
 */
export function toRecord(value: unknown): JournalRecord | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'is not a journal record (an object)';
  // Counted without `Object.keys`: no array per record (a million of them at start-up).
  let count = 0, first = '';
  for (const key in value) if (Object.hasOwn(value, key) && count++ === 0) first = key;
  if (count !== 1) return `has ${count} keys (a record has exactly one: put, delete, clear or counters)`;
  const record = value as Record<string, unknown>;
  if ('put' in record) {
    const rule = record.put as Partial<RuleJSON> | null;
    if (typeof rule !== 'object' || rule === null || Array.isArray(rule)) return 'has a put that is not a rule object';
    if (typeof rule.id !== 'string' || rule.id === '') return 'has a put of a rule without an id';
    return record as JournalRecord;
  }
  if ('delete' in record) {
    const ids = record.delete;
    return Array.isArray(ids) && ids.every((id) => typeof id === 'string') ? (record as JournalRecord) : 'has a delete that is not an array of ids';
  }
  if ('clear' in record) return record.clear === true ? (record as JournalRecord) : 'has a clear that is not true';
  if ('counters' in record) {
    const rows = record.counters;
    const valid = Array.isArray(rows) && rows.every((row) => Array.isArray(row) && row.length === 4 && typeof row[0] === 'string' &&
      typeof row[1] === 'string' && isCount(row[2]) && isCount(row[3]));
    return valid ? (record as JournalRecord) : 'has counters that are not [id, revision, hits, used] rows';
  }
  return `has an unknown record type ${JSON.stringify(first)}`;
}

function isCount(value: unknown): boolean {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/** Whether a stored rule has expired by `now` (expired rules are not loaded and compacted away). */
export function expired(rule: RuleJSON, now: number): boolean {
  return typeof rule.expires === 'string' && Date.parse(rule.expires) <= now;
}
