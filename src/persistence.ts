/**
 * Keeps an interceptor's rules and its stores in step: loads them, writes changes before they take
 * effect, and applies the changes other instances made.
 *
 * The model, per watched store: the store orders its changes by version. A local change is written
 * first and applied once the store has it, with the version the write resolved to. Several local writes
 * may be in flight (`WritePipeline`: sent in call order, applied in call order). A change the store
 * reports waits while a local write that may come before it is unapplied: it is applied once the oldest
 * unapplied local write has resolved to a version above the change's (it came first in the store), or
 * once no local write is in flight; always in the order reported. A reported change is ignored when its
 * version is not above the last one applied (reported twice), or not above this instance's own write of
 * the same rule (its echo, or older) or own clear. So every instance applies the store's changes in the
 * store's order, and an older version never replaces a newer one.
 *
 * Instance rules (`cluster: false`) live in `store`; cluster rules in `clusterStore`, or in `store`
 * when there is no cluster store.
 */
import { randomBytes } from 'node:crypto';
import { Budgets } from './budgets.js';
import { SmtpInterceptError, ValidationError } from './errors.js';
import type { Rule, RuleJSON } from './rule.js';
import { restoreRule } from './stored-rule.js';
import { type RuleStore, type StoreChange, StoreUnavailableError } from './store.js';
import { durably, LocalWrites, type Sent, type Wrote } from './local-writes.js';
import { type Issued, WritePipeline } from './write-pipeline.js';
import { ChangeStream, MAX_HELD, type Write } from './change-stream.js';

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
  /** Loads the stores (the interceptor's `ready`): every mutation is issued after it. */
  ready(): Promise<void>;
}

export class Persistence {
  readonly #host: PersistenceHost;
  readonly #store: RuleStore | undefined;
  readonly #cluster: RuleStore | undefined;
  readonly budgets: Budgets;
  #ready: Promise<void> | undefined;
  readonly #pipeline: WritePipeline;
  /** What `add`, `remove`, `clear` and background removals write (see local-writes.ts). */
  readonly writes: LocalWrites;
  #unwatch: (() => void)[] = [];
  readonly #streams = new Map<RuleStore, ChangeStream>();
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
    this.#pipeline = new WritePipeline(() => host.ready());
    this.writes = new LocalWrites({
      storeFor: (cluster) => this.storeFor(cluster),
      get: (id) => host.get(id),
      rules: () => host.rules(),
      send: (stores, write) => this.#writing(stores, write),
      stamp: (rule) => {
        const revision = `${this.#origin}.${++this.#writes}`;
        this.#revisions.set(rule, revision);
        return { ...rule.toJSON(), revision };
      },
      cleared: (store, version) => {
        const stream = this.#streams.get(store);
        if (stream && typeof version === 'number') stream.cleared = version;
      },
      failed: (store, err) => this.#failed(store, err),
    }, this.#pipeline);
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
      const stream = new ChangeStream();
      const unwatch = store.watch?.((change) => this.#hear(store, change), (err) => this.#failed(store, err));
      if (unwatch) this.#streams.set(store, stream);
      try {
        const rules = await durably(store, 'loading rules', () => store.load());
        this.#restore(rules, store);
        stream.restored = rules;
      } catch (err) {
        unwatch?.();
        this.#streams.delete(store);
        // An invalid stored rule names its rule; the store's description says where it is (a file's path).
        if (err instanceof ValidationError && store.description) {
          throw new ValidationError(err.details.map((d) => ({ ...d, message: `${store.description}: ${d.message}` })), { cause: err });
        }
        throw err;
      }
      if (unwatch) this.#unwatch.push(unwatch);
      this.#loaded.add(store);
      this.#drain(store, stream);
    }
  }

  /**
   * Runs a mutation in the write pipeline (see `WritePipeline`): `issue` sends its writes in call order,
   * once ready; its `apply` changes the index in call order, once they resolved.
   */
  mutate<T>(issue: () => Issued<T>, writeFailed?: (err: unknown) => void): Promise<Awaited<T>> {
    return this.#pipeline.run(issue, writeFailed);
  }

  /** The rule `id` holds once the mutations in flight apply, given the installed `current`. */
  expected(id: string, current: Rule | undefined): Rule | undefined {
    return this.#pipeline.expected(id, current);
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

  /**
   * Sends a mutation's writes now (`write` calls each store synchronously, and `wrote` as each resolves).
   * A watched store records the write as in flight until the mutation applied or failed, holding back
   * the reported changes it may precede (see `#flush`).
   */
  #writing(stores: readonly RuleStore[], write: (wrote: Wrote) => Promise<unknown>): Sent {
    const writes: [RuleStore, ChangeStream, Write][] = [];
    for (const store of stores) {
      const stream = this.#streams.get(store);
      if (!stream) continue;
      const record: Write = {};
      (stream.writes ??= new Set()).add(record);
      writes.push([store, stream, record]);
    }
    const written = write((store, version, ids) => {
      this.#outages.delete(store);
      if (ids) this.#own(store, version, ids);
      const entry = writes.find(([s]) => s === store);
      if (entry && typeof version === 'number') {
        entry[2].version = version;
        this.#flush(store, entry[1]);
      }
    });
    return {
      written,
      settled: () => {
        for (const [store, stream, record] of writes) {
          stream.writes?.delete(record);
          this.#flush(store, stream);
        }
      },
    };
  }

  /** Records this instance's write of `ids` at `version`: reported changes up to it are its echo or older. */
  #own(store: RuleStore, version: number | void, ids: readonly string[]): void {
    const stream = this.#streams.get(store);
    if (!stream) return;
    if (typeof version !== 'number') {
      this.#host.error(new SmtpInterceptError('store_invalid', 'a store that reports changes must resolve each write to its version (see RuleStore)'));
      return;
    }
    stream.wrote(version, ids);
  }

  #hear(store: RuleStore, change: StoreChange): void {
    this.#outages.delete(store);
    const stream = this.#streams.get(store);
    if (!stream) return;
    if (!stream.hold(change)) this.#host.error(new SmtpInterceptError('store_invalid', `more than ${MAX_HELD} changes reported while writes were in flight; later ones were dropped`));
    this.#flush(store, stream);
  }

  /** The load is done: applies what was reported meanwhile (as far as writes in flight allow). */
  #drain(store: RuleStore, stream: ChangeStream): void {
    stream.busy = false;
    this.#flush(store, stream);
  }

  /** Applies the held changes that may be applied now (see `ChangeStream.due`), in the order reported. */
  #flush(store: RuleStore, stream: ChangeStream): void {
    for (const change of stream.due()) this.#apply(store, stream, change);
  }

  #apply(store: RuleStore, stream: ChangeStream, change: StoreChange): void {
    const { version } = change;
    if (typeof version !== 'number') {
      return this.#host.error(new SmtpInterceptError('store_invalid', `a store reported a ${change.type} without a version (see RuleStore)`));
    }
    if (version <= stream.heard) return; // reported twice, or older than a change already applied
    stream.heard = version;
    const unchanged = stream.unchanged(change);
    stream.restored = undefined;
    if (unchanged) return stream.passed(version);
    // A change at or below this instance's own later write (or clear) is its echo, or older.
    const superseded = (id: string) => stream.superseded(id, version);
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
    stream.passed(version);
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
    await this.#pipeline.idle();
    await this.budgets.close();
  }
}
