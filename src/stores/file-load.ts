/**
 * Reading a `FileStore` file: the journal streamed line by line (a million-rule file is hundreds of MB;
 * it is never held as one string), or 0.1.0's single JSON document. Internal to
 * `smtp-intercept/stores/file`.
 */
import { open, readFile } from 'node:fs/promises';
import { SmtpInterceptError } from '../errors.js';
import type { RuleJSON } from '../rule.js';
import { withCounters } from '../store.js';
import { expired, headerVersion, type JournalRecord, toRecord } from './file-journal.js';
import { LiveSet } from './file-live.js';

/** Bytes read per chunk: large enough that the per-read cost vanishes, small next to the rule set. */
const CHUNK = 1 << 20;

/** What a store file holds, and where its good records end. */
export interface LoadedFile {
  /** Where the live rules' records are (a journal's; empty for 0.1.0's document), expired ones dropped. */
  readonly live: LiveSet;
  /** The live rules, parsed, expired ones dropped: handed out once, never kept by the store. */
  readonly rules: RuleJSON[];
  /** `none`: no file (or an empty one); `legacy`: 0.1.0's document, rewritten as a journal on the first write. */
  readonly format: 'none' | 'legacy' | 'journal';
  /** Bytes of the header and the complete records: anything after them is a torn record. */
  readonly size: number;
  /** Records in the journal (what compaction weighs against the live set). */
  readonly records: number;
  /** A torn last record that was dropped: its line number and why it is torn. */
  readonly torn?: { readonly line: number; readonly why: string };
}

/** Refuses the file: it exists but is not what a store writes. The caller never writes over it. */
export function refuseFile(path: string, problem: string, cause?: unknown): SmtpInterceptError {
  return new SmtpInterceptError('store_invalid', `rule file ${path} ${problem}; it was left untouched`, { cause });
}

/** Reads the store file at `path` (see `LoadedFile`); throws `refuseFile`'s error for a corrupt one. */
export async function loadRuleFile(path: string, now: number): Promise<LoadedFile> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return empty('none');
    throw err;
  }
  let loaded: LoadedFile | 'legacy';
  try {
    loaded = await readJournal(handle, path, now);
  } finally {
    await handle.close();
  }
  return loaded === 'legacy' ? readLegacy(path, now) : loaded;
}

const empty = (format: LoadedFile['format']): LoadedFile => ({ live: new LiveSet(), rules: [], format, size: 0, records: 0 });

async function readJournal(handle: import('node:fs/promises').FileHandle, path: string, now: number): Promise<LoadedFile | 'legacy'> {
  const live = new LiveSet();
  // The parsed rules by slot, handed out at the end: the store itself keeps only `live`.
  let parsed: (RuleJSON | undefined)[] = [];
  let size = 0, records = 0, line = 0;
  // An unparsable line is torn if it is the last one and corruption if anything follows it.
  let bad: { line: number; why: string } | undefined;
  // One buffer for the whole file, reused for every read (profiles of a million-rule load showed the
  // fresh 1 MB buffer per read and the copy joining it to the previous read's partial line at 0.3-0.5 s). A
  // partial last line moves to its start; a line longer than the buffer doubles it.
  let buffer = Buffer.allocUnsafe(CHUNK);
  let carry = 0;
  const take = (text: string, bytes: number): void => {
    line++;
    if (bad) throw refuseFile(path, `line ${bad.line} ${bad.why}`);
    if (line === 1) {
      const version = headerVersion(text);
      if (version === undefined) throw new LegacyFile();
      if (version !== 2) throw refuseFile(path, `is a journal of version ${version}, which this version of smtp-intercept cannot read`);
      size += bytes;
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      bad = { line, why: 'is not valid JSON' };
      return;
    }
    const record: JournalRecord | string = toRecord(value);
    if (typeof record === 'string') throw refuseFile(path, `line ${line} ${record}`);
    if ('put' in record) parsed[live.put(record.put, size, bytes - 1)] = record.put;
    else if ('delete' in record) {
      for (const id of record.delete) {
        const slot = live.delete(id);
        if (slot !== undefined) parsed[slot] = undefined;
      }
    } else if ('clear' in record) {
      live.clear();
      parsed = [];
    } else {
      for (const [id, revision, hits, used] of record.counters) {
        const delta = { id, revision, hits, used };
        const slot = live.count(delta);
        if (slot === undefined) continue;
        parsed[slot < 0 ? -slot - 1 : slot] = slot < 0 ? undefined : withCounters(parsed[slot]!, delta);
      }
    }
    size += bytes;
    records++;
  };
  try {
    for (;;) {
      if (carry === buffer.length) buffer = Buffer.concat([buffer, Buffer.allocUnsafe(buffer.length)]);
      const { bytesRead } = await handle.read(buffer, carry, buffer.length - carry, null);
      if (bytesRead === 0) break;
      const filled = carry + bytesRead;
      let start = 0;
      for (let end = buffer.indexOf(10, start); end !== -1 && end < filled; end = buffer.indexOf(10, start)) {
        take(buffer.toString('utf8', start, end), end + 1 - start);
        start = end + 1;
      }
      carry = filled - start;
      buffer.copyWithin(0, start, filled);
    }
  } catch (err) {
    if (err instanceof LegacyFile) return 'legacy';
    throw err;
  }
  if (line === 0) return carry > 0 ? 'legacy' : empty('none');
  if (carry > 0 && bad) throw refuseFile(path, `line ${bad.line} ${bad.why}`);
  const torn = carry > 0 ? { line: line + 1, why: 'has no newline' } : bad;
  const rules: RuleJSON[] = [];
  for (const [id, slot] of live.entries()) {
    const rule = parsed[slot]!;
    if (expired(rule, now)) live.delete(id);
    else rules.push(rule);
  }
  return { live, rules, format: 'journal', size, records, ...(torn ? { torn } : {}) };
}

/** The first line is no journal header: the file is 0.1.0's `{"version":1,"rules":[...]}` or not ours. */
class LegacyFile extends Error {}

/** 0.1.0's format: one JSON document (rewritten whole on every change, so read whole too). */
async function readLegacy(path: string, now: number): Promise<LoadedFile> {
  const text = await readFile(path, 'utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw refuseFile(path, `is not valid JSON (${(err as Error).message})`, err);
  }
  const shape = parsed as { version?: unknown; rules?: unknown };
  if (typeof parsed !== 'object' || parsed === null || shape.version !== 1 || !Array.isArray(shape.rules)) {
    throw refuseFile(path, 'is not a smtp-intercept rule file (expected a journal, or 0.1.0\'s {"version":1,"rules":[...]})');
  }
  const rules = new Map<string, RuleJSON>();
  for (const [i, rule] of (shape.rules as unknown[]).entries()) {
    const record = toRecord({ put: rule });
    if (typeof record === 'string' || !('put' in record)) throw refuseFile(path, `has an invalid rule at rules[${i}] (not a rule object with an id)`);
    rules.set(record.put.id, record.put);
  }
  const live = [...rules.values()].filter((rule) => !expired(rule, now));
  return { live: new LiveSet(), rules: live, format: 'legacy', size: 0, records: rules.size };
}
