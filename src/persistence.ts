/**
 * Keeps an interceptor's rules and its stores in step: loads them, writes changes before they take
 * effect, applies changes other instances made, and runs cluster-wide `times` budgets.
 *
 * Instance rules (`cluster: false`) live in `store`; cluster rules in `clusterStore`, or in `store`
 * when there is no cluster store.
 */
import { SmtpInterceptError } from './errors.js';
import type { Rule } from './rule.js';
import { restoreRule } from './stored-rule.js';
import { type RuleStore, type StoreChange, StoreUnavailableError } from './store.js';

/** What the interceptor lets persistence do to its rule set. */
export interface PersistenceHost {
  now(): number;
  get(id: string): Rule | undefined;
  rules(): Iterable<Rule>;
  /** Puts a rule into the index (replacing its id), with the events that go with it. */
  install(rule: Rule): void;
  /** Removes a rule from the index, with the event; returns it. */
  uninstall(id: string, reason: 'deleted' | 'expired' | 'exhausted' | 'cleared'): Rule | undefined;
  /** Reports a failure nobody awaits (a background write, an invalid change from another instance). */
  error(err: unknown): void;
}

async function durably<T>(store: RuleStore, what: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    if (err instanceof SmtpInterceptError) throw err; // already says what and where
    throw new StoreUnavailableError(`${what} failed: ${(err as Error).message}`, { cause: err });
  }
}

/** Wait before asking again for a budget the store refused (others hold the rest). */
const REFUSED_BACKOFF_MS = 200;
/** Wait before asking again after the store failed (it is probably unreachable). */
const FAILED_BACKOFF_MS = 1000;

export class Persistence {
  readonly #host: PersistenceHost;
  readonly #store: RuleStore | undefined;
  readonly #cluster: RuleStore | undefined;
  #ready: Promise<void> | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #unwatch: (() => void)[] = [];
  /** Ids this instance is deleting right now: their echo from the store is ignored. */
  readonly #writing = new Set<string>();
  /**
   * The stored JSON text of every rule as this instance last wrote or applied it. A change whose text is
   * already known is an echo of our own write (or changes nothing) and is ignored: comparing content, not
   * timestamps, so two writes in the same millisecond are never confused.
   */
  readonly #known = new Map<string, string>();
  /** Stores this instance is clearing right now: their reset echo is ignored (only theirs). */
  readonly #clearing = new Set<RuleStore>();
  readonly #loaded = new Set<RuleStore>();
  /** Earliest time (ms) a budgeted rule may ask its store again, after a refusal or a failure. */
  readonly #backoff = new WeakMap<Rule, number>();
  #reserveFailing = false;
  readonly #refilling = new Set<Rule>();
  /** Applications of budgeted rules made here and not yet reported to the store. */
  readonly #unreported = new Map<Rule, number>();

  constructor(host: PersistenceHost, store: RuleStore | undefined, clusterStore: RuleStore | undefined) {
    this.#host = host;
    this.#store = store;
    this.#cluster = clusterStore;
  }

  /** The store holding rules of this scope, if any. */
  storeFor(cluster: boolean): RuleStore | undefined {
    return cluster ? this.#cluster ?? this.#store : this.#store;
  }

  /** Loads every store once and starts watching them. */
  ready(): Promise<void> {
    // A failed load is not remembered: the next call tries again (stores already loaded are kept).
    this.#ready ??= this.#load().catch((err: unknown) => {
      this.#ready = undefined;
      throw err;
    });
    return this.#ready;
  }

  /**
   * Per store: watch first, then load, then apply what was reported meanwhile in the order reported, so
   * no change made after the snapshot is missed (the store drops what its snapshot already holds).
   */
  async #load(): Promise<void> {
    const stores = [this.#store, this.#cluster].filter((s, i, all): s is RuleStore => s !== undefined && all.indexOf(s) === i);
    for (const store of stores) {
      if (this.#loaded.has(store)) continue;
      let early: StoreChange[] | undefined = [];
      const unwatch = store.watch?.((change) => {
        if (early) early.push(change);
        else this.#onChange(store, change);
      }, (err) => this.#host.error(err));
      try {
        const rules = await durably(store, 'loading rules', () => store.load());
        for (const json of rules) {
          const rule = this.#restore(json, store);
          if (rule) {
            if (store.watch) this.#known.set(rule.id, JSON.stringify(json));
            this.#adopt(rule);
          }
        }
      } catch (err) {
        unwatch?.();
        throw err;
      }
      const reported = early;
      early = undefined;
      for (const change of reported) this.#onChange(store, change);
      if (unwatch) this.#unwatch.push(unwatch);
      this.#loaded.add(store);
    }
  }

  #restore(json: unknown, store: RuleStore): Rule | undefined {
    const rule = restoreRule(json, this.#host.now());
    if (rule && this.storeFor(rule.cluster) !== store) {
      throw new SmtpInterceptError('store_invalid', `stored rule ${rule.id} is ${rule.cluster ? 'a cluster' : 'an instance'} rule, in the wrong store`);
    }
    return rule;
  }

  /** Runs mutations one at a time, so the stores and the index see them in the same order. */
  serial<T>(op: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(op);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  /** Writes a rule before it takes effect; rejects with StoreUnavailableError when it cannot. */
  async put(rule: Rule): Promise<void> {
    const store = this.storeFor(rule.cluster);
    if (!store) return;
    const json = rule.toJSON();
    // Only a store that reports changes can echo ours; for the others there is nothing to remember.
    const echoes = store.watch !== undefined;
    const before = this.#known.get(rule.id);
    if (echoes) this.#known.set(rule.id, JSON.stringify(json)); // before the write: a store may echo it synchronously
    try {
      await durably(store, `storing rule ${rule.id}`, () => store.put(json));
    } catch (err) {
      if (before === undefined) this.#known.delete(rule.id);
      else this.#known.set(rule.id, before);
      throw err;
    }
  }

  /** Removes rules from their stores before they leave the index. */
  async delete(rules: readonly Rule[]): Promise<void> {
    for (const store of new Set(rules.map((r) => this.storeFor(r.cluster)))) {
      if (!store) continue;
      const ids = rules.filter((r) => this.storeFor(r.cluster) === store).map((r) => r.id);
      for (const id of ids) this.#writing.add(id);
      try {
        await durably(store, `removing ${ids.length} rule(s)`, () => store.delete(ids));
        for (const id of ids) this.#known.delete(id);
      } finally {
        for (const id of ids) this.#writing.delete(id);
      }
    }
  }

  /**
   * Removes the rules of a `clear(scope)` from their stores: a store holding only cleared scopes is
   * cleared whole, one that also holds the other scope loses just these rules.
   */
  async clear(rules: readonly Rule[], scope: 'cluster' | 'instance' | undefined): Promise<void> {
    const cleared = (cluster: boolean) => scope === undefined || scope === (cluster ? 'cluster' : 'instance');
    for (const store of new Set([this.storeFor(true), this.storeFor(false)])) {
      if (!store) continue;
      const whole = (this.storeFor(true) !== store || cleared(true)) && (this.storeFor(false) !== store || cleared(false));
      if (!whole) {
        await this.delete(rules.filter((r) => this.storeFor(r.cluster) === store));
        continue;
      }
      this.#clearing.add(store);
      try {
        await durably(store, 'clearing rules', () => store.clear());
      } finally {
        this.#clearing.delete(store);
      }
    }
  }

  /** Replaces a rule with a newer stored version; hits are counted per instance, so they carry over. */
  #replace(rule: Rule): void {
    const current = this.#host.get(rule.id);
    if (current) rule.count = current.count;
    this.#adopt(rule);
  }

  /** Removes a rule that expired or was used up from its store, in the background. */
  forget(rule: Rule): void {
    const store = this.storeFor(rule.cluster);
    if (!store) return;
    // In the mutation queue, so it cannot overtake an add of the same selector; and skipped when such an
    // add has installed a newer version meanwhile, which the delete would otherwise wipe out.
    this.serial(async () => {
      if (this.#host.get(rule.id) !== undefined) return;
      this.#known.delete(rule.id);
      await store.delete([rule.id]);
    }).catch((err: unknown) => this.#host.error(new StoreUnavailableError(`removing rule ${rule.id} failed: ${(err as Error).message}`, { cause: err })));
  }

  /** Whether `rule` draws on a cluster-wide `times` budget held by the cluster store. */
  budgeted(rule: Rule): boolean {
    return rule.cluster && rule.remaining !== undefined && this.#cluster?.reserve !== undefined;
  }

  /**
   * Takes over a rule that entered the index. A budgeted rule starts with no local applications: it
   * reserves one when an attempt first matches it here, so the budget goes to the instances that see
   * the traffic, not to whichever heard of the rule first.
   */
  #adopt(rule: Rule): void {
    if (this.budgeted(rule)) rule.remaining = 0;
    this.#host.install(rule);
  }

  /**
   * After a local add: the rule is stored and installed. The adding instance reserves its first
   * application at once, so its own next attempt is forced (the usual test: add, then send here).
   */
  added(rule: Rule): void {
    if (!this.budgeted(rule)) return;
    rule.remaining = 0;
    this.refill(rule);
  }

  /** Records that a budgeted rule forced one attempt here; reserves the next application when none is left. */
  used(rule: Rule): void {
    this.#unreported.set(rule, (this.#unreported.get(rule) ?? 0) + 1);
    if (rule.remaining === 0) this.refill(rule);
  }

  /**
   * Reports unreported uses of a budgeted rule and reserves one more application. When nothing is left
   * to reserve and this instance holds none, the rule is exhausted here; the store removes it for
   * everyone once every granted application has been used.
   */
  refill(rule: Rule): void {
    const store = this.#cluster;
    if (!store?.reserve || !this.budgeted(rule) || this.#refilling.has(rule)) return;
    const used = this.#unreported.get(rule) ?? 0;
    // After a refusal or a failure, wait before asking again (uses still get reported at once).
    if (used === 0 && (this.#backoff.get(rule) ?? 0) > this.#host.now()) return;
    this.#unreported.delete(rule);
    this.#refilling.add(rule);
    store.reserve(rule.id, 1, used).then((granted) => {
      this.#refilling.delete(rule);
      this.#reserveFailing = false;
      if (this.#host.get(rule.id) !== rule) {
        if (granted > 0) void store.release?.(rule.id, granted).catch((err: unknown) => this.#host.error(err));
        return;
      }
      rule.remaining = (rule.remaining ?? 0) + granted;
      // None granted: other instances hold the rest of the budget. The rule stays; the store removes it
      // for everyone (an `exhausted` delete) once every application has been used.
      if (granted === 0) this.#backoff.set(rule, this.#host.now() + REFUSED_BACKOFF_MS);
      if (this.#unreported.has(rule)) this.refill(rule);
    }, (err: unknown) => {
      this.#refilling.delete(rule);
      this.#unreported.set(rule, (this.#unreported.get(rule) ?? 0) + used); // report them next time
      this.#backoff.set(rule, this.#host.now() + FAILED_BACKOFF_MS);
      // One event per outage, not one per check.
      if (!this.#reserveFailing) this.#host.error(new StoreUnavailableError(`reserving an application of rule ${rule.id} failed: ${(err as Error).message}`, { cause: err }));
      this.#reserveFailing = true;
    });
  }

  #onChange(store: RuleStore, change: StoreChange): void {
    try {
      if (change.type === 'put') {
        const text = JSON.stringify(change.rule);
        if (this.#known.get(change.rule.id) === text) return;
        const rule = this.#restore(change.rule, store);
        if (!rule) {
          // Already expired here: the older version must not stay in force.
          this.#known.delete(change.rule.id);
          this.#host.uninstall(change.rule.id, 'expired');
          return;
        }
        this.#known.set(rule.id, text);
        this.#replace(rule);
      } else if (change.type === 'delete') {
        this.#known.delete(change.id);
        if (!this.#writing.has(change.id)) this.#host.uninstall(change.id, change.reason ?? 'deleted');
      } else if (!this.#clearing.has(store)) {
        const next = new Map<string, { rule: Rule; text: string }>();
        for (const json of change.rules) {
          const rule = this.#restore(json, store);
          if (rule) next.set(rule.id, { rule, text: JSON.stringify(json) });
        }
        for (const rule of [...this.#host.rules()]) {
          if (this.storeFor(rule.cluster) === store && !next.has(rule.id)) {
            this.#known.delete(rule.id);
            this.#host.uninstall(rule.id, 'deleted');
          }
        }
        for (const { rule, text } of next.values()) {
          if (this.#known.get(rule.id) === text && this.#host.get(rule.id)) continue;
          this.#known.set(rule.id, text);
          this.#replace(rule);
        }
      }
    } catch (err) {
      this.#host.error(err);
    }
  }

  /** Stops watching, gives back unused reservations, and waits for writes in flight. */
  async close(): Promise<void> {
    for (const unwatch of this.#unwatch) unwatch();
    this.#unwatch = [];
    await this.#queue;
    const store = this.#cluster;
    // Uses not yet reported are reported now, or the budget could never be seen as used up.
    if (store?.reserve) {
      const unreported = [...this.#unreported];
      this.#unreported.clear();
      await Promise.all(unreported.map(([r, used]) => store.reserve!(r.id, 0, used).catch((err: unknown) => this.#host.error(err))));
    }
    if (store?.release) {
      const held = [...this.#host.rules()].filter((r) => this.budgeted(r) && (r.remaining ?? 0) > 0);
      await Promise.all(held.map((r) => store.release!(r.id, r.remaining!).catch((err: unknown) => this.#host.error(err))));
    }
  }
}
