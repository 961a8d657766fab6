/**
 * How `RedisStore` follows changes: a subscriber connection on the change channel, messages held while
 * a load is in flight and reported after it in version order, a reload after every (re)subscription
 * and on a gap, and a periodic comparison with Redis's version counter. A snapshot newer than what the
 * listeners were told is reported to them as a `reset`; a reload never rolls a listener back.
 */
import type { Redis } from 'ioredis';
import { type RuleJSON, SmtpInterceptError, type StoreChange, StoreUnavailableError } from '../index.js';
import type { RedisCommands } from './redis-commands.js';
import { decodeMessage, versionOf } from './redis-snapshot.js';

/** Messages kept while a load is in flight; past this many, they are dropped and the set reloaded. */
const MAX_HELD = 10_000;

type Listener = (change: StoreChange) => void;
type ErrorListener = (err: Error) => void;

/** What the follower reads and where it listens. */
export interface FollowedSource {
  readonly client: Redis;
  readonly commands: RedisCommands;
  readonly channel: string;
  readonly versionKey: string;
  readonly timeoutMs: number;
  readonly checkIntervalMs: number;
  /** Reads the stored rules at one version; `held` gives the messages held since the load began (when subscribed). */
  read(held: (() => readonly string[]) | undefined): Promise<{ rules: RuleJSON[]; version: number }>;
  /** Hears every change before the listeners do (reported ones, and snapshots as resets). */
  observe(change: StoreChange): void;
}

/** The change-following half of `RedisStore` (see the module comment). */
export class ChangeFollower {
  readonly #source: FollowedSource;
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
  readonly #onReady = () => { this.#connected = true; };
  readonly #listeners = new Set<Listener>();
  readonly #errorListeners = new Set<ErrorListener>();
  #connected = true;
  /** An outage was reported to the error listeners and its end not yet shown to the listeners. */
  #reportedOutage = false;
  #retry: NodeJS.Timeout | undefined;
  /** Redis's version at the last check when it was ahead of the changes heard (0: it was not). */
  #ahead = 0;

  constructor(source: FollowedSource) {
    this.#source = source;
    source.client.on('ready', this.#onReady);
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
      const { rules, version } = await this.#source.read(this.#subscriber ? () => this.#held : undefined);
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

  /** Adds a listener (the first one subscribes); returns its removal. */
  watch(listener: Listener, onError?: ErrorListener): () => void {
    this.#listeners.add(listener);
    if (onError) this.#errorListeners.add(onError);
    if (!this.#subscriber) this.#subscribe();
    return () => {
      this.#listeners.delete(listener);
      if (onError) this.#errorListeners.delete(onError);
    };
  }

  /** Stops following: timers, listeners and the subscriber connection. */
  close(): void {
    clearTimeout(this.#retry);
    clearInterval(this.#poll);
    this.#source.client.off('ready', this.#onReady);
    this.#listeners.clear();
    this.#errorListeners.clear();
    const subscriber = this.#subscriber;
    this.#subscriber = undefined;
    subscriber?.disconnect();
  }

  #subscribe(): void {
    // A dedicated connection: a subscribed connection can run no other command. ioredis reconnects it
    // and re-subscribes; every (re)subscription is followed by a full reload, which covers whatever was
    // published while it was away.
    const subscriber = this.#source.client.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null, retryStrategy: (n: number) => Math.min(n * 100, 1000) });
    this.#subscriber = subscriber;
    this.#following = new Promise((resolve) => { this.#followed = resolve; });
    subscriber.on('error', (err: Error) => this.lost(err));
    subscriber.on('message', (_channel: string, message: string) => this.#message(message));
    subscriber.on('ready', () => {
      subscriber.subscribe(this.#source.channel).then(() => {
        // A load waiting for the first subscription reads the hash after it: that load is the reload
        // (one scan at start-up, not two). Any later subscription reloads, whatever load is in flight: a
        // load that began before it may have read the version before a change the subscriber missed.
        const covered = this.#waiting > 0;
        this.#followed?.();
        this.#followed = undefined;
        if (!covered) void this.#resync();
      }, (err: unknown) => this.lost(err as Error));
    });
    this.#poll = setInterval(() => void this.#check(), this.#source.checkIntervalMs);
    this.#poll.unref();
  }

  /**
   * Waits (up to the command timeout) until the first subscription is in place. True when it waited for
   * it: the subscription then counts on this load as its reload.
   */
  async #untilFollowing(): Promise<boolean> {
    if (!this.#followed) return false;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), this.#source.timeoutMs); });
    this.#waiting++;
    const outcome = await Promise.race([this.#following, timeout]);
    this.#waiting--;
    clearTimeout(timer);
    if (outcome === 'timeout') throw new StoreUnavailableError(`loading rules: not subscribed to ${this.#source.channel} within ${this.#source.timeoutMs} ms`);
    return true;
  }

  /**
   * The safety net: reloads when a version Redis had reached at the previous check is still not heard.
   * Redis counts a change before its message reaches this reader, so a version ahead at one check is
   * usually a message on its way: under a steady stream of writes, reloading on sight would scan the
   * whole hash at every check. A message lost for good is repaired within two intervals.
   */
  async #check(): Promise<void> {
    if (this.#loads > 0 || this.#listeners.size === 0) return;
    try {
      const version = Number(await this.#source.commands.run('checking the version', () => this.#source.client.get(this.#source.versionKey)) ?? 0);
      const missed = this.#ahead > this.#version;
      this.#ahead = version > this.#version ? version : 0;
      if (missed && this.#loads === 0) {
        this.#ahead = 0;
        await this.#resync();
      }
    } catch (err) {
      this.lost(err as Error);
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
        return this.#report(new SmtpInterceptError('store_invalid', `a change published on ${this.#source.channel} is not valid JSON`, { cause: err }));
      }
      this.#emit({ type: 'put', rule, version });
    } else if (type === 'delete' || type === 'exhausted') {
      this.#emit(type === 'delete' ? { type: 'delete', id: payload, version } : { type: 'delete', id: payload, reason: 'exhausted', version });
    } else {
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
      this.lost(err as Error);
      // The subscriber may be back before the command connection: try again until a reload succeeds,
      // or a change published meanwhile could stay unseen.
      this.#retry = setTimeout(() => void this.#resync(), 250);
      this.#retry.unref();
    }
  }

  #emit(change: StoreChange): void {
    this.#source.observe(change);
    for (const listener of this.#listeners) listener(change);
  }

  #report(err: Error): void {
    for (const listener of this.#errorListeners) listener(err);
  }

  /** Reports a lost connection once per outage, not once per reconnection attempt. */
  lost(err: Error): void {
    if (!this.#connected) return;
    this.#connected = false;
    this.#reportedOutage = true;
    this.#report(new StoreUnavailableError(`Redis is unreachable: ${err.message}`, { cause: err }));
  }
}
