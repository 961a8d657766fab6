/**
 * `RedisStore`: cluster rules shared by every instance through Redis. Rules live in a hash; every change
 * is one Lua script that also bumps a version counter and publishes the change, so instances apply
 * changes in order and reload everything after a gap or a reconnect. `times` budgets are Redis hashes
 * that instances draw on atomically. While Redis is unreachable, writes reject at once with
 * `StoreUnavailableError` and the engine keeps serving the rules it has.
 */
import { Redis } from 'ioredis';
import { type CounterDelta, type RuleJSON, type RuleStore, SmtpInterceptError, type StoreChange, StoreOutcomeUnknownError } from '../index.js';
import { RedisCommands } from './redis-commands.js';
import { CLEAR, DELETE, PUT, RELEASE, RESERVE, SAVE_COUNTERS } from './redis-scripts.js';
import { applySavedCounters, saveInScripts } from './redis-counters.js';
import { HitShares } from './redis-shares.js';
import { ChangeFollower } from './redis-follower.js';
import { readSnapshot, type SnapshotSource } from './redis-snapshot.js';

export { MAX_COUNTER_DELTAS } from './redis-counters.js';

/** Options of {@link RedisStore}. */
export interface RedisStoreOptions {
  /** An ioredis client (left open on `close`), or a Redis URL to connect to (closed on `close`). */
  redis: Redis | string;
  /** Prefix of every key and of the channel. @default 'smtp-intercept' */
  prefix?: string;
  /** How long one command may take before the store gives up and reports Redis unavailable. @default 2000 */
  commandTimeoutMs?: number;
  /**
   * While watched, how often the store compares Redis's version counter with the last change it
   * reported; it reloads when a version seen at one check is still unheard at the next, so a change lost
   * without a reconnect is repaired within two intervals even when no later change reveals the gap (and
   * a message merely on its way costs no reload). @default 5000
   */
  checkIntervalMs?: number;
}

/**
 * A `RuleStore` on Redis, for `clusterStore`.
 *
 * @example
 * ```ts
 * const ic = new Interceptor({ store: new FileStore('./local.json'), clusterStore: new RedisStore({ redis: 'redis://127.0.0.1:6379' }) })
 * await ic.ready()
 * ```
 */
export class RedisStore implements RuleStore {
  readonly #client: Redis;
  readonly #owned: boolean;
  readonly #keys: { rules: string; version: string; budget: string; channel: string; hits: string; used: string };
  readonly #timeoutMs: number;
  readonly #commands: RedisCommands;
  readonly #shares = new HitShares();
  readonly #follower: ChangeFollower;

  constructor(options: RedisStoreOptions) {
    const { redis, prefix = 'smtp-intercept', commandTimeoutMs = 2000, checkIntervalMs = 5000 } = options;
    if (!/^[^\s{}]+$/.test(prefix)) throw new SmtpInterceptError('invalid_option', 'prefix must be non-empty, without spaces or braces');
    this.#owned = typeof redis === 'string';
    // Owned connections fail fast while disconnected instead of queueing writes nobody awaits in time.
    this.#client = typeof redis === 'string'
      ? new Redis(redis, { enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: (n) => Math.min(n * 100, 1000) })
      : redis;
    this.#keys = { rules: `${prefix}:rules`, version: `${prefix}:version`, budget: `${prefix}:budget:`, channel: `${prefix}:changes`, hits: `${prefix}:hits`, used: `${prefix}:used` };
    this.#timeoutMs = commandTimeoutMs;
    this.#commands = new RedisCommands(this.#client, commandTimeoutMs);
    this.#follower = new ChangeFollower({
      client: this.#client, commands: this.#commands, channel: this.#keys.channel, versionKey: this.#keys.version, timeoutMs: commandTimeoutMs, checkIntervalMs,
      read: (held) => this.#read(held), observe: (change) => this.#observe(change),
    });
    if (this.#owned) this.#client.on('error', (err: Error) => this.#follower.lost(err));
  }

  /**
   * The stored rules, read in batches (see `redis-snapshot.ts`: no single command grows with the rule
   * set), with their saved counters. While watched, it first waits until the store follows changes, so
   * every change made after the snapshot is reported (see `redis-follower.ts`).
   */
  load(): Promise<RuleJSON[]> {
    return this.#follower.load();
  }

  /**
   * Writes `rule` and its counters in one script: `times` starts afresh; `hits` become the JSON's for a
   * new rule, and for an update the saved total plus the update's hits Redis does not hold yet (see
   * `redis-shares.ts`).
   */
  async put(rule: RuleJSON): Promise<number> {
    if (!Number.isSafeInteger(rule.hits) || rule.hits < 0) {
      throw new SmtpInterceptError('invalid_counters', `storing rule ${rule.id}: hits must be a non-negative integer, got ${String(rule.hits)}`);
    }
    const share = this.#shares.writing(rule);
    try {
      const version = Number(await this.#eval('storing a rule', PUT, [this.#keys.rules, this.#keys.version, this.#keys.budget + rule.id, this.#keys.used, this.#keys.hits],
        [rule.id, JSON.stringify(rule), rule.times === undefined ? '' : String(rule.times), this.#keys.channel, rule.revision ?? '', String(rule.hits), share === undefined ? '' : String(share)]));
      this.#shares.wrote(rule, share, version);
      return version;
    } catch (err) {
      // An unknown outcome counts as written: its hits are then held at most once.
      this.#shares.wrote(rule, share, err instanceof StoreOutcomeUnknownError ? Infinity : undefined);
      throw err;
    }
  }

  async delete(ids: readonly string[]): Promise<number> {
    return this.#removing(ids, () => this.#eval('removing rules', DELETE, this.#changeKeys(), [this.#keys.channel, this.#keys.budget, ...ids]));
  }

  async clear(): Promise<number> {
    return this.#removing(undefined, () => this.#eval('clearing rules', CLEAR, this.#changeKeys(), [this.#keys.channel, this.#keys.budget]));
  }

  /**
   * Saves counters in scripts of at most `MAX_COUNTER_DELTAS` deltas, each run atomically, sent back to
   * back at the call (see `saveInScripts`). `hits` of a rule are the
   * total every instance saved (kept when the rule is updated); `used` counts against `times` of rules
   * without a cluster budget. Rejects with `StoreUnavailableError` only when no script may have been
   * applied; when some were (or may have been) and others failed, with `StoreOutcomeUnknownError`.
   */
  async saveCounters(deltas: readonly CounterDelta[]): Promise<void> {
    if (deltas.length === 0) return;
    const keys = this.#changeKeys();
    await saveInScripts(deltas, (args) => this.#eval('saving counters', SAVE_COUNTERS, keys, [this.#keys.channel, this.#keys.budget, ...args]), (d, sign) => this.#shares.add(d.id, sign * d.hits));
  }

  async reserve(id: string, wanted: number, used: number, revision: string, request = ''): Promise<number> {
    return Number(await this.#eval('reserving from a budget', RESERVE, [this.#keys.budget + id, this.#keys.rules, this.#keys.version, this.#keys.hits, this.#keys.used],
      [id, String(wanted), String(used), this.#keys.channel, revision, request]));
  }

  async release(id: string, unused: number, revision: string): Promise<void> {
    await this.#eval('releasing a reservation', RELEASE, [this.#keys.budget + id], [String(unused), revision]);
  }

  watch(listener: (change: StoreChange) => void, onError?: (err: Error) => void): () => void {
    return this.#follower.watch(listener, onError);
  }

  async close(): Promise<void> {
    this.#follower.close();
    if (this.#owned) this.#client.disconnect();
  }

  /** A snapshot with its saved counters (the follower's `read`). */
  async #read(held: (() => readonly string[]) | undefined): Promise<{ rules: RuleJSON[]; version: number }> {
    const source: SnapshotSource = {
      client: this.#client, commands: this.#commands, rulesKey: this.#keys.rules, versionKey: this.#keys.version, timeoutMs: this.#timeoutMs, held,
    };
    const snapshot = await readSnapshot(source);
    await applySavedCounters(source, this.#keys, snapshot.rules);
    this.#shares.loaded(snapshot.rules, snapshot.version);
    return snapshot;
  }

  /** Changes heard from other writers (and echoes of this store's own): see `redis-shares.ts`. */
  #observe(change: StoreChange): void {
    if (change.type === 'put') this.#shares.heard(change.rule);
    else if (change.type === 'delete') this.#shares.heardRemoval(change.id, change.version);
    else if (change.rules.length === 0) this.#shares.heardClear(change.version);
  }

  /** Runs a removal (of `ids`, or of every rule), giving the shares back when it certainly failed. */
  async #removing(ids: readonly string[] | undefined, run: () => Promise<unknown>): Promise<number> {
    const before = this.#shares.removing(ids);
    try {
      return Number(await run());
    } catch (err) {
      if (!(err instanceof StoreOutcomeUnknownError)) this.#shares.unremoved(before);
      throw err;
    }
  }

  /** Keys of the scripts that remove rules: the rules, the version and the counters. */
  #changeKeys(): string[] {
    return [this.#keys.rules, this.#keys.version, this.#keys.hits, this.#keys.used];
  }

  /** Runs a script that changes data: a failure after it may have reached Redis is an unknown outcome. */
  async #eval(what: string, script: string, keys: string[], args: string[]): Promise<unknown> {
    return this.#commands.run(what, () => this.#client.eval(script, keys.length, ...keys, ...args), true);
  }
}
