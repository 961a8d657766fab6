/**
 * `RedisStore`: cluster rules shared by every instance through Redis. Rules live in a hash; every change
 * is one Lua script that also bumps a version counter and publishes the change, so instances apply
 * changes in order and reload everything after a gap or a reconnect. `times` budgets are Redis hashes
 * that instances draw on atomically. While Redis is unreachable, writes reject at once with
 * `StoreUnavailableError` and the engine keeps serving the rules it has.
 */
import { Redis } from 'ioredis';
import { type CounterDelta, type RuleJSON, type RuleStore, SmtpInterceptError, type StoreChange, StoreOutcomeUnknownError, StoreUnavailableError } from '../index.js';
import { RedisCommands } from './redis-commands.js';
import { CLEAR, DELETE, PUT, RELEASE, RESERVE, SAVE_COUNTERS } from './redis-scripts.js';
import { applySavedCounters, saveInScripts } from './redis-counters.js';
import { HitShares } from './redis-shares.js';
import { decodeMessage, readSnapshot, type SnapshotSource, versionOf } from './redis-snapshot.js';

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
   * reported, and reloads when it is behind: a change lost without a reconnect is repaired within this
   * interval even when no later change reveals the gap. @default 5000
   */
  checkIntervalMs?: number;
}

/** Messages kept while a load is in flight; past this many, they are dropped and the set reloaded. */
const MAX_HELD = 10_000;

type Listener = (change: StoreChange) => void;
type ErrorListener = (err: Error) => void;

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
  #subscriber: Redis | undefined;
  /** Resolves once the subscriber has subscribed: from then on every change is reported. */
  #following: Promise<void> | undefined;
  #followed: (() => void) | undefined;
  /** Loads waiting for the first subscription. */
  #waiting = 0;
  /** The version of the last change (or snapshot) reported to the listeners. */
  #version = 0;
  /** Loads in flight, and the messages that arrived meanwhile (processed in version order after them). */
  #loads = 0;
  #held: string[] = [];
  /** Held messages were dropped (more than {@link MAX_HELD}): reload once the loads are done. */
  #overflowed = false;
  #poll: NodeJS.Timeout | undefined;
  readonly #checkIntervalMs: number;
  readonly #onReady = () => { this.#connected = true; };
  readonly #listeners = new Set<Listener>();
  readonly #errorListeners = new Set<ErrorListener>();
  #connected = true;
  /** An outage was reported to the error listeners and its end not yet shown to the listeners. */
  #reportedOutage = false;
  #retry: NodeJS.Timeout | undefined;

  constructor(options: RedisStoreOptions) {
    const { redis, prefix = 'smtp-intercept', commandTimeoutMs = 2000, checkIntervalMs = 5000 } = options;
    if (!/^[^\s{}]+$/.test(prefix)) throw new SmtpInterceptError('invalid_option', 'prefix must be non-empty, without spaces or braces');
    this.#owned = typeof redis === 'string';
    // Owned connections fail fast while disconnected instead of queueing writes nobody awaits in time.
    this.#client = typeof redis === 'string'
      ? new Redis(redis, { enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: (n) => Math.min(n * 100, 1000) })
      : redis;
    if (this.#owned) this.#client.on('error', (err: Error) => this.#lost(err));
    this.#client.on('ready', this.#onReady);
    this.#keys = { rules: `${prefix}:rules`, version: `${prefix}:version`, budget: `${prefix}:budget:`, channel: `${prefix}:changes`, hits: `${prefix}:hits`, used: `${prefix}:used` };
    this.#timeoutMs = commandTimeoutMs;
    this.#commands = new RedisCommands(this.#client, commandTimeoutMs);
    this.#checkIntervalMs = checkIntervalMs;
  }

  /**
   * The stored rules, read in batches (see `redis-snapshot.ts`: no single command grows with the rule
   * set). While watched, it first waits until the store follows changes, so every change
   * made after the snapshot is reported; a snapshot newer than what the listeners were told is also
   * reported to them as a `reset`. Messages arriving during a load are held and reported after it, in
   * version order, minus those the snapshot already holds: a reload never rolls a listener back.
   */
  async load(): Promise<RuleJSON[]> {
    // Counted from the start: messages arriving while it waits for the subscription are held for it too.
    this.#loads++;
    let covers = false;
    try {
      if (this.#following) covers = await this.#untilFollowing();
      const source: SnapshotSource = {
        client: this.#client, commands: this.#commands, rulesKey: this.#keys.rules, versionKey: this.#keys.version,
        timeoutMs: this.#timeoutMs, held: this.#subscriber ? () => this.#held : undefined,
      };
      const { rules, version } = await readSnapshot(source);
      await applySavedCounters(source, this.#keys, rules);
      this.#shares.loaded(rules, version);
      // Held messages that cover every version up to the snapshot's say the same in finer grain (with the
      // reason of a removal); otherwise listeners get the snapshot.
      if (version > this.#version && !this.#holds(this.#version + 1, version)) {
        this.#version = version;
        if (this.#listeners.size > 0) this.#emit({ type: 'reset', rules, version });
      }
      return rules;
    } catch (err) {
      // It stood in for the first subscription's reload: the watchers are still owed one.
      if (covers) void this.#resync();
      throw err;
    } finally {
      if (--this.#loads === 0) this.#drain();
    }
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

  watch(listener: Listener, onError?: ErrorListener): () => void {
    this.#listeners.add(listener);
    if (onError) this.#errorListeners.add(onError);
    if (!this.#subscriber) this.#subscribe();
    return () => {
      this.#listeners.delete(listener);
      if (onError) this.#errorListeners.delete(onError);
    };
  }

  async close(): Promise<void> {
    clearTimeout(this.#retry);
    clearInterval(this.#poll);
    this.#client.off('ready', this.#onReady);
    this.#listeners.clear();
    this.#errorListeners.clear();
    const subscriber = this.#subscriber;
    this.#subscriber = undefined;
    subscriber?.disconnect();
    if (this.#owned) this.#client.disconnect();
  }

  #subscribe(): void {
    // A dedicated connection: a subscribed connection can run no other command. ioredis reconnects it
    // and re-subscribes; every (re)subscription is followed by a full reload, which covers whatever was
    // published while it was away.
    const subscriber = this.#client.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null, retryStrategy: (n: number) => Math.min(n * 100, 1000) });
    this.#subscriber = subscriber;
    this.#following = new Promise((resolve) => { this.#followed = resolve; });
    subscriber.on('error', (err: Error) => this.#lost(err));
    subscriber.on('message', (_channel: string, message: string) => this.#message(message));
    subscriber.on('ready', () => {
      subscriber.subscribe(this.#keys.channel).then(() => {
        // A load waiting for the first subscription reads the hash after it: that load is the reload
        // (one scan at start-up, not two). Any later subscription reloads, whatever load is in flight: a
        // load that began before it may have read the version before a change the subscriber missed.
        const covered = this.#waiting > 0;
        this.#followed?.();
        this.#followed = undefined;
        if (!covered) void this.#resync();
      }, (err: unknown) => this.#lost(err as Error));
    });
    this.#poll = setInterval(() => void this.#check(), this.#checkIntervalMs);
    this.#poll.unref();
  }

  /**
   * Waits (up to the command timeout) until the first subscription is in place. True when it waited for
   * it: the subscription then counts on this load as its reload.
   */
  async #untilFollowing(): Promise<boolean> {
    if (!this.#followed) return false;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), this.#timeoutMs); });
    this.#waiting++;
    const outcome = await Promise.race([this.#following, timeout]);
    this.#waiting--;
    clearTimeout(timer);
    if (outcome === 'timeout') throw new StoreUnavailableError(`loading rules: not subscribed to ${this.#keys.channel} within ${this.#timeoutMs} ms`);
    return true;
  }

  /** The safety net: reloads when Redis's version is ahead of the last change reported. */
  async #check(): Promise<void> {
    if (this.#loads > 0 || this.#listeners.size === 0) return;
    try {
      const version = Number(await this.#commands.run('checking the version', () => this.#client.get(this.#keys.version)) ?? 0);
      if (version > this.#version && this.#loads === 0) await this.#resync();
    } catch (err) {
      this.#lost(err as Error);
    }
  }

  /** Whether the held messages include every version from `from` to `to`. */
  #holds(from: number, to: number): boolean {
    if (to - from + 1 > this.#held.length) return false;
    const versions = new Set(this.#held.map(versionOf));
    for (let v = from; v <= to; v++) if (!versions.has(v)) return false;
    return true;
  }

  /** Reports held messages in version order (the last snapshot drops those it already holds). */
  #drain(): void {
    const held = this.#held.sort((a, b) => versionOf(a) - versionOf(b));
    this.#held = [];
    if (this.#overflowed) {
      this.#overflowed = false;
      return void this.#resync();
    }
    for (const message of held) this.#message(message);
  }

  #message(message: string): void {
    if (this.#loads > 0) {
      if (this.#held.length < MAX_HELD) this.#held.push(message);
      else this.#overflowed = true;
      return;
    }
    const { version, type, payload } = decodeMessage(message);
    if (version <= this.#version) return; // already part of the last snapshot
    if (version !== this.#version + 1) return void this.#resync(); // a gap: something was missed
    this.#version = version;
    if (type === 'put') {
      let rule: RuleJSON;
      try {
        rule = JSON.parse(payload) as RuleJSON;
      } catch (err) {
        return this.#report(new SmtpInterceptError('store_invalid', `a change published on ${this.#keys.channel} is not valid JSON`, { cause: err }));
      }
      this.#shares.heard(rule);
      this.#emit({ type: 'put', rule, version });
    } else if (type === 'delete' || type === 'exhausted') {
      this.#shares.heardRemoval(payload, version);
      this.#emit(type === 'delete' ? { type: 'delete', id: payload, version } : { type: 'delete', id: payload, reason: 'exhausted', version });
    } else {
      this.#shares.heardClear(version);
      this.#emit({ type: 'reset', rules: [], version }); // a clear
    }
  }

  async #resync(): Promise<void> {
    if (this.#listeners.size === 0 || !this.#subscriber) return;
    clearTimeout(this.#retry);
    try {
      const rules = await this.load(); // reports the snapshot as a reset when it is newer
      this.#connected = true;
      // Back after a reported outage: listeners hear from the store even if nothing changed meanwhile
      // (the engine counts one outage per report of unavailability followed by an answer).
      if (this.#reportedOutage) this.#emit({ type: 'reset', rules, version: this.#version });
      this.#reportedOutage = false;
    } catch (err) {
      this.#lost(err as Error);
      // The subscriber may be back before the command connection: try again until a reload succeeds,
      // or a change published meanwhile could stay unseen.
      this.#retry = setTimeout(() => void this.#resync(), 250);
      this.#retry.unref();
    }
  }

  #emit(change: StoreChange): void {
    for (const listener of this.#listeners) listener(change);
  }

  #report(err: Error): void {
    for (const listener of this.#errorListeners) listener(err);
  }

  /** Reports a lost connection once per outage, not once per reconnection attempt. */
  #lost(err: Error): void {
    if (!this.#connected) return;
    this.#connected = false;
    this.#reportedOutage = true;
    this.#report(new StoreUnavailableError(`Redis is unreachable: ${err.message}`, { cause: err }));
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
