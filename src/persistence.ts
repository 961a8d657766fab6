/**
 * Keeps an interceptor's rules and its stores in step: loads them, writes changes before they take
 * effect, and applies the changes other instances made.
 *
 * The model, per watched store: the store orders its changes by version. A local change is written
 * first and applied once the store has it, with the version the write resolved to; changes the store
 * reports meanwhile wait, and are applied after it in the order reported. A reported change is
 * ignored when its version is not above the last one applied (reported twice), or not above this
 * instance's own write of the same rule (its echo, or older) or own clear. So every instance applies
 * the store's changes in the store's order, and an older version never replaces a newer one.
 *
 * Instance rules (`cluster: false`) live in `store`; cluster rules in `clusterStore`, or in `store`
 * when there is no cluster store.
 */
import { randomBytes } from 'node:crypto';
import { Budgets } from './budgets.js';
import { SmtpInterceptError } from './errors.js';
import type { Rule, RuleJSON } from './rule.js';
import { restoreRule } from './stored-rule.js';
import { type RuleStore, type StoreChange, StoreUnavailableError } from './store.js';

/** What the interceptor lets persistence do to its rule set. */
export interface PersistenceHost {
  now(): number;
  get(id: string): Rule | undefined;
  rules(): Iterable<Rule>;
  /** Puts a rule into the index (replacing its id), with the events that go with it. */
  install(rule: Rule): void;
  /** Puts a store's loaded rules into the index in one pass: `install`'s effects, without its per-rule overhead. */
  installAll(rules: readonly Rule[]): void;
  /** Removes a rule from the index, with the event; returns it. */
  uninstall(id: string, reason: 'deleted' | 'expired' | 'exhausted' | 'cleared'): Rule | undefined;
  /** Reports a failure nobody awaits (a background write, an invalid change from another instance). */
  error(err: unknown): void;
}

/** What this instance knows of a watched store's changes. */
interface Stream {
  /** Version of the last reported change applied. */
  heard: number;
  /** A local write or the load is in flight: reported changes wait in `held`. */
  busy: boolean;
  held: StoreChange[];
  /** Ids this instance wrote, with the version of that write, until the store's reports pass it. */
  readonly own: Map<string, number>;
  /** Version of this instance's last clear of the store. */
  cleared: number;
}

/** Changes held during one write; more means a runaway store, reported and dropped. */
const MAX_HELD = 100_000;

async function durably<T>(store: RuleStore, what: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    if (err instanceof SmtpInterceptError) throw err; // already says what and where
    throw new StoreUnavailableError(`${what} failed: ${(err as Error).message}`, { cause: err });
  }
}

export class Persistence {
  readonly #host: PersistenceHost;
  readonly #store: RuleStore | undefined;
  readonly #cluster: RuleStore | undefined;
  readonly budgets: Budgets;
  #ready: Promise<void> | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #unwatch: (() => void)[] = [];
  readonly #streams = new Map<RuleStore, Stream>();
  readonly #loaded = new Set<RuleStore>();
  /** The revision each installed rule was stored with: kept on the rule itself (see `Rule.revision`). */
  readonly #revisions = { get: (rule: Rule): string => rule.revision, set: (rule: Rule, revision: string): void => { rule.revision = revision; } };
  /** Revisions are `<origin>.<n>`: unique across instances without coordination. */
  readonly #origin = randomBytes(6).toString('hex');
  #writes = 0;
  /** Stores in an outage already reported: further unavailability errors of it wait for an answer. */
  readonly #outages = new Set<RuleStore>();

  constructor(host: PersistenceHost, store: RuleStore | undefined, clusterStore: RuleStore | undefined) {
    this.#host = host;
    this.#store = store;
    this.#cluster = clusterStore;
    this.budgets = new Budgets({
      ...host,
      revisionOf: (rule) => rule.revision,
      origin: this.#origin,
      error: (err) => this.#failed(clusterStore, err),
      answered: () => { if (clusterStore) this.#outages.delete(clusterStore); },
    }, clusterStore);
  }

  /** The store holding rules of this scope, if any. */
  storeFor(cluster: boolean): RuleStore | undefined {
    return cluster ? this.#cluster ?? this.#store : this.#store;
  }

  /** The revision `rule` was stored with (`''` for a rule a store gave without one, or not stored). */
  revisionOf(rule: Rule): string {
    return this.#revisions.get(rule) ?? '';
  }

  /** Reports a failure of a background write to `store` (once per outage, see `#failed`). */
  failed(store: RuleStore, err: unknown): void {
    this.#failed(store, err);
  }

  /** `store` answered a background write: an outage of it, if any, is over. */
  answered(store: RuleStore): void {
    this.#outages.delete(store);
  }

  /** Loads every store once and starts following them. */
  ready(): Promise<void> {
    // A failed load is not remembered: the next call tries again (stores already loaded are kept).
    this.#ready ??= this.#load().catch((err: unknown) => {
      this.#ready = undefined;
      throw err;
    });
    return this.#ready;
  }

  /** Per store: watch first, then load, then apply what was reported meanwhile (see `RuleStore.load`). */
  async #load(): Promise<void> {
    const stores = [this.#store, this.#cluster].filter((s, i, all): s is RuleStore => s !== undefined && all.indexOf(s) === i);
    for (const store of stores) {
      if (this.#loaded.has(store)) continue;
      const stream: Stream = { heard: 0, busy: true, held: [], own: new Map(), cleared: 0 };
      const unwatch = store.watch?.((change) => this.#hear(store, change), (err) => this.#failed(store, err));
      if (unwatch) this.#streams.set(store, stream);
      try {
        const rules = await durably(store, 'loading rules', () => store.load());
        this.#restore(rules, store);
      } catch (err) {
        unwatch?.();
        this.#streams.delete(store);
        throw err;
      }
      if (unwatch) this.#unwatch.push(unwatch);
      this.#loaded.add(store);
      this.#drain(store, stream);
    }
  }

  /** Runs mutations one at a time, so the stores and the index see them in the same order. */
  serial<T>(op: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(op);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  /** Writes a rule, then `apply` installs it; rejects with StoreUnavailableError (nothing applied) when it cannot. */
  put<T>(rule: Rule, apply: () => T): Promise<T> {
    const store = this.storeFor(rule.cluster);
    if (!store) return Promise.resolve(apply());
    const revision = `${this.#origin}.${++this.#writes}`;
    this.#revisions.set(rule, revision);
    const json: RuleJSON = { ...rule.toJSON(), revision };
    return this.#writing([store], async () => {
      this.#own(store, await durably(store, `storing rule ${rule.id}`, () => store.put(json)), [rule.id]);
    }, apply);
  }

  /** Removes rules from their stores, then `apply` removes them from the index. */
  delete<T>(rules: readonly Rule[], apply: () => T): Promise<T> {
    const stores = [...new Set(rules.map((r) => this.storeFor(r.cluster)))].filter((s): s is RuleStore => s !== undefined);
    return this.#writing(stores, async () => {
      for (const store of stores) {
        const ids = rules.filter((r) => this.storeFor(r.cluster) === store).map((r) => r.id);
        this.#own(store, await durably(store, `removing ${ids.length} rule(s)`, () => store.delete(ids)), ids);
      }
    }, apply);
  }

  /**
   * Removes the rules of a `clear(scope)` from their stores, then `apply` empties the index: a store
   * holding only cleared scopes is cleared whole, one that also holds the other scope loses just these.
   */
  clear<T>(rules: readonly Rule[], scope: 'cluster' | 'instance' | undefined, apply: () => T): Promise<T> {
    const cleared = (cluster: boolean) => scope === undefined || scope === (cluster ? 'cluster' : 'instance');
    const stores = [...new Set([this.storeFor(true), this.storeFor(false)])].filter((s): s is RuleStore => s !== undefined);
    return this.#writing(stores, async () => {
      for (const store of stores) {
        const whole = (this.storeFor(true) !== store || cleared(true)) && (this.storeFor(false) !== store || cleared(false));
        if (whole) {
          const version = await durably(store, 'clearing rules', () => store.clear());
          const stream = this.#streams.get(store);
          if (stream && typeof version === 'number') stream.cleared = version;
        } else {
          const ids = rules.filter((r) => this.storeFor(r.cluster) === store).map((r) => r.id);
          this.#own(store, await durably(store, `removing ${ids.length} rule(s)`, () => store.delete(ids)), ids);
        }
      }
    }, apply);
  }

  /** Removes a rule that expired or was used up from its store, in the background. */
  forget(rule: Rule): void {
    if (!this.storeFor(rule.cluster)) return;
    // In the mutation queue, so it cannot overtake an add of the same selector; and skipped when such an
    // add has installed a newer version meanwhile, which the delete would otherwise wipe out.
    this.serial(async () => {
      if (this.#host.get(rule.id) === undefined) await this.delete([rule], () => undefined);
    }).catch((err: unknown) => this.#failed(this.storeFor(rule.cluster), err));
  }

  /**
   * Reports a background failure of a store. An unavailable store is reported once per outage: later
   * unavailability errors are the same outage until the store answers again (a write, a reservation,
   * a reported change).
   */
  #failed(store: RuleStore | undefined, err: unknown): void {
    if (store && err instanceof StoreUnavailableError) {
      if (this.#outages.has(store)) return;
      this.#outages.add(store);
    }
    this.#host.error(err);
  }

  /** Marks `stores` busy while `write` runs and `apply` changes the index, then applies what they reported meanwhile. */
  async #writing<T>(stores: readonly RuleStore[], write: () => Promise<void>, apply: () => T): Promise<T> {
    const streams = stores.map((s) => [s, this.#streams.get(s)] as const).filter((e): e is readonly [RuleStore, Stream] => e[1] !== undefined);
    for (const [, stream] of streams) stream.busy = true;
    try {
      await write();
      for (const store of stores) this.#outages.delete(store);
      return apply();
    } finally {
      for (const [store, stream] of streams) this.#drain(store, stream);
    }
  }

  /** Records this instance's write of `ids` at `version`: reported changes up to it are its echo or older. */
  #own(store: RuleStore, version: number | void, ids: readonly string[]): void {
    const stream = this.#streams.get(store);
    if (!stream) return;
    if (typeof version !== 'number') {
      this.#host.error(new SmtpInterceptError('store_invalid', 'a store that reports changes must resolve each write to its version (see RuleStore)'));
      return;
    }
    for (const id of ids) stream.own.set(id, Math.max(version, stream.own.get(id) ?? 0));
  }

  #hear(store: RuleStore, change: StoreChange): void {
    this.#outages.delete(store);
    const stream = this.#streams.get(store);
    if (!stream) return;
    if (!stream.busy) return this.#apply(store, stream, change);
    if (stream.held.length < MAX_HELD) stream.held.push(change);
    else this.#host.error(new SmtpInterceptError('store_invalid', `more than ${MAX_HELD} changes reported during one write; later ones were dropped`));
  }

  #drain(store: RuleStore, stream: Stream): void {
    stream.busy = false;
    const held = stream.held;
    stream.held = [];
    for (const change of held) this.#apply(store, stream, change);
  }

  #apply(store: RuleStore, stream: Stream, change: StoreChange): void {
    const { version } = change;
    if (typeof version !== 'number') {
      return this.#host.error(new SmtpInterceptError('store_invalid', `a store reported a ${change.type} without a version (see RuleStore)`));
    }
    if (version <= stream.heard) return; // reported twice, or older than a change already applied
    stream.heard = version;
    // A change at or below this instance's own later write (or clear) is its echo, or older.
    const superseded = (id: string) => (stream.own.get(id) ?? 0) >= version || stream.cleared >= version;
    try {
      if (change.type === 'put') {
        if (!superseded(change.rule.id)) this.#take(change.rule, store);
      } else if (change.type === 'delete') {
        if (!superseded(change.id)) this.#host.uninstall(change.id, change.reason ?? 'deleted');
      } else if (stream.cleared < version) {
        const next = new Set(change.rules.map((r) => r.id));
        for (const rule of [...this.#host.rules()]) {
          if (this.storeFor(rule.cluster) === store && !next.has(rule.id) && !superseded(rule.id)) this.#host.uninstall(rule.id, 'deleted');
        }
        for (const json of change.rules) if (!superseded(json.id)) this.#take(json, store);
      }
    } catch (err) {
      this.#host.error(err);
    }
    // The store reports in version order: nothing older than `version` is still to come.
    for (const [id, own] of stream.own) if (own <= version) stream.own.delete(id);
  }

  /** Installs a stored rule unless the same revision is installed; an expired one is removed. */
  #take(json: RuleJSON, store: RuleStore): void {
    const rule = this.#adopt(json, store, this.#host.now());
    if (rule) this.#host.install(rule);
  }

  /**
   * A store's snapshot into the index in one pass. Every rule is validated before any is installed: a
   * snapshot holding an invalid rule changes nothing (a retried `ready()` starts from the same state).
   */
  #restore(jsons: readonly RuleJSON[], store: RuleStore): void {
    const now = this.#host.now();
    const rules: Rule[] = [];
    for (const json of jsons) {
      const rule = this.#adopt(json, store, now);
      if (rule) rules.push(rule);
    }
    this.#host.installAll(rules);
  }

  /** The rule to install for a stored one, or `undefined` when it expired or that revision is installed. */
  #adopt(json: RuleJSON, store: RuleStore, now: number): Rule | undefined {
    // The write installed already (a reload's snapshot repeats most rules, and RedisStore reports its first
    // snapshot as a reset too): it was validated when installed, so it is not restored a second time.
    const stored = typeof json === 'object' && json !== null && typeof json.revision === 'string' && json.revision !== '' ? json.revision : undefined;
    if (stored !== undefined && typeof json.id === 'string' && this.#host.get(json.id)?.revision === stored) return undefined;
    const rule = restoreRule(json, now);
    if (!rule) return void this.#host.uninstall(json.id, 'expired');
    if (this.storeFor(rule.cluster) !== store) {
      throw new SmtpInterceptError('store_invalid', `stored rule ${rule.id} is ${rule.cluster ? 'a cluster' : 'an instance'} rule, in the wrong store`);
    }
    const current = this.#host.get(rule.id);
    const revision = typeof json.revision === 'string' ? json.revision : '';
    if (current && revision !== '' && current.revision === revision) return undefined;
    rule.revision = revision;
    // Hits are counted per instance, so they carry over to the new revision.
    if (current) rule.count = current.count;
    this.budgets.adopt(rule);
    return rule;
  }

  /** Stops following the stores, waits for writes in flight, settles budgets. */
  async close(): Promise<void> {
    for (const unwatch of this.#unwatch) unwatch();
    this.#unwatch = [];
    this.#streams.clear();
    await this.#queue;
    await this.budgets.close();
  }
}
