/**
 * A consistent snapshot of `RedisStore`'s rule hash, read in batches. One `HGETALL` of a million rules
 * is a reply of hundreds of megabytes: it blocks Redis while it is built, outlasts any sensible command
 * timeout and holds the whole reply in memory at once. Instead the hash is scanned (`HSCAN`, each batch
 * within the command timeout) between two reads of the version counter:
 *
 * - the same version before and after: nothing changed during the scan, and a full `HSCAN` returns
 *   every entry present throughout, so the scan is the snapshot at that version;
 * - a newer version after: the changes in between are replayed onto the scan from the published
 *   messages the store held meanwhile (each change's last message decides the entry, whatever the
 *   scan saw of it), when every one of them was heard and understood; otherwise the hash is scanned
 *   again, a few times, before the load fails with `StoreUnavailableError`.
 */
import type { Redis } from 'ioredis';
import { type RuleJSON, SmtpInterceptError, StoreUnavailableError } from '../index.js';
import type { RedisCommands } from './redis-commands.js';

/** Entries asked per `HSCAN`: a reply of about a megabyte, far within the command timeout. */
export const SCAN_BATCH = 4000;
/** Scans tried while the set keeps changing in ways the held messages cannot replay. */
const ATTEMPTS = 4;

/** Where a snapshot is read from. */
export interface SnapshotSource {
  readonly client: Redis;
  readonly commands: RedisCommands;
  readonly rulesKey: string;
  readonly versionKey: string;
  readonly timeoutMs: number;
  /** The messages held since the load began (`<version> <type> <payload>`); undefined when not subscribed. */
  readonly held: (() => readonly string[]) | undefined;
}

/** The version a published message starts with. */
export const versionOf = (message: string): number => Number(message.slice(0, message.indexOf(' ')));

/** A published message's parts: `<version> <type> <payload>` (see `redis-scripts.ts`). */
export function decodeMessage(message: string): { version: number; type: string; payload: string } {
  const first = message.indexOf(' ');
  const second = message.indexOf(' ', first + 1);
  return { version: Number(message.slice(0, first)), type: message.slice(first + 1, second), payload: message.slice(second + 1) };
}

function parse(source: SnapshotSource, id: string, text: string): RuleJSON {
  try {
    return JSON.parse(text) as RuleJSON;
  } catch (err) {
    throw new SmtpInterceptError('store_invalid', `Redis hash ${source.rulesKey} holds invalid JSON for rule ${id}`, { cause: err });
  }
}

async function readVersion(source: SnapshotSource): Promise<number> {
  return Number(await source.commands.run('loading rules', () => source.client.get(source.versionKey)) ?? 0);
}

/** The rules in the hash with the version they are the state of. */
export async function readSnapshot(source: SnapshotSource): Promise<{ rules: RuleJSON[]; version: number }> {
  for (let attempt = 1; ; attempt++) {
    const before = await readVersion(source);
    const rules = new Map<string, RuleJSON>();
    await scanHash(source, source.rulesKey, (id, text) => rules.set(id, parse(source, id, text)));
    const after = await readVersion(source);
    if (after === before || await replayed(source, rules, before, after)) return { rules: [...rules.values()], version: after };
    if (attempt === ATTEMPTS) {
      throw new StoreUnavailableError(`loading rules: ${source.rulesKey} changed during ${ATTEMPTS} scans in a row in ways the published changes could not replay`);
    }
  }
}

/**
 * Every entry of a hash, in `HSCAN` batches. An entry may come twice when the hash is resized during
 * the scan: callers keep the last.
 */
export async function scanHash(source: SnapshotSource, key: string, each: (field: string, value: string) => void): Promise<void> {
  let cursor = '0';
  do {
    const [next, flat] = await source.commands.run('loading rules', () => source.client.hscan(key, cursor, 'COUNT', SCAN_BATCH));
    for (let i = 0; i + 1 < flat.length; i += 2) each(flat[i]!, flat[i + 1]!);
    cursor = next;
  } while (cursor !== '0');
}

/** Applies the changes `from` (exclusive) to `to` onto `rules`, once all were heard; false when they cannot be. */
async function replayed(source: SnapshotSource, rules: Map<string, RuleJSON>, from: number, to: number): Promise<boolean> {
  const held = source.held;
  if (!held) return false;
  // A message is published before the write's reply, but on another connection: it may still be on its way.
  const deadline = Date.now() + source.timeoutMs;
  let changes = inRange(held(), from, to);
  while (changes.size < to - from) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 5));
    changes = inRange(held(), from, to);
  }
  for (let v = from + 1; v <= to; v++) {
    const { type, payload } = decodeMessage(changes.get(v)!);
    if (type === 'put') {
      const rule = parse(source, 'published in a change', payload);
      rules.set(rule.id, rule);
    } else if (type === 'delete' || type === 'exhausted') {
      rules.delete(payload);
    } else if (type === 'reset') {
      rules.clear();
    } else {
      return false; // a change this reader does not know how to replay: scan again
    }
  }
  return true;
}

function inRange(held: readonly string[], from: number, to: number): Map<number, string> {
  const out = new Map<number, string>();
  for (const message of held) {
    const v = versionOf(message);
    if (v > from && v <= to) out.set(v, message);
  }
  return out;
}
