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
  #clearing = 0;
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
    this.#ready ??= this.#load();
    return this.#ready;
  }

  async #load(): Promise<void> {
    const stores = [this.#store, this.#cluster].filter((s, i, all): s is RuleStore => s !== undefined && all.indexOf(s) === i);
    for (const store of stores) {
      const rules = await durably(store, 'loading rules', () => store.load());
      for (const json of rules) {
        const rule = this.#restore(json, store);
        if (rule) {
          if (store.watch) this.#known.set(rule.id, JSON.stringify(json));
          this.#adopt(rule);
        }
      }
      if (store.watch) this.#unwatch.push(store.watch((change) => this.#onChange(store, change), (err) => this.#host.error(err)));
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
    this.#clearing++;
    try {
      for (const store of new Set([this.storeFor(true), this.storeFor(false)])) {
        if (!store) continue;
        const whole = (this.storeFor(true) !== store || cleared(true)) && (this.storeFor(false) !== store || cleared(false));
        if (whole) await durably(store, 'clearing rules', () => store.clear());
        else await this.delete(rules.filter((r) => this.storeFor(r.cluster) === store));
      }
    } finally {
      this.#clearing--;
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
    this.#known.delete(rule.id);
    const store = this.storeFor(rule.cluster);
    if (store) store.delete([rule.id]).catch((err: unknown) => this.#host.error(new StoreUnavailableError(`removing rule ${rule.id} failed: ${(err as Error).message}`, { cause: err })));
  }

  /** Whether `rule` draws on a cluster-wide `times` budget held by the cluster store. */
  budgeted(rule: Rule): boolean {
    return rule.cluster && rule.remaining !== undefined && this.#cluster?.reserve !== undefined;
  }

  /**
   * Takes over a rule that entered the index: a budgeted rule starts with no local applications and
   * reserves its first from the shared budget.
   */
  #adopt(rule: Rule): void {
    if (this.budgeted(rule)) rule.remaining = 0;
    this.#host.install(rule);
    if (this.budgeted(rule)) this.refill(rule);
  }

  /** After a local add: the rule is stored and installed; start its reservations. */
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
    this.#unreported.delete(rule);
    this.#refilling.add(rule);
    store.reserve(rule.id, 1, used).then((granted) => {
      this.#refilling.delete(rule);
      if (this.#host.get(rule.id) !== rule) {
        if (granted > 0) void store.release?.(rule.id, granted).catch((err: unknown) => this.#host.error(err));
        return;
      }
      rule.remaining = (rule.remaining ?? 0) + granted;
      if (this.#unreported.has(rule)) this.refill(rule);
      else if (granted === 0 && rule.remaining === 0) this.#host.uninstall(rule.id, 'exhausted');
    }, (err: unknown) => {
      this.#refilling.delete(rule);
      this.#unreported.set(rule, (this.#unreported.get(rule) ?? 0) + used); // report them next time
      this.#host.error(new StoreUnavailableError(`reserving an application of rule ${rule.id} failed: ${(err as Error).message}`, { cause: err }));
    });
  }

  #onChange(store: RuleStore, change: StoreChange): void {
    try {
      if (change.type === 'put') {
        const text = JSON.stringify(change.rule);
        if (this.#known.get(change.rule.id) === text) return;
        const rule = this.#restore(change.rule, store);
        if (!rule) return;
        this.#known.set(rule.id, text);
        this.#replace(rule);
      } else if (change.type === 'delete') {
        this.#known.delete(change.id);
        if (!this.#writing.has(change.id)) this.#host.uninstall(change.id, change.reason ?? 'deleted');
      } else if (this.#clearing === 0) {
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
    if (store?.release) {
      const held = [...this.#host.rules()].filter((r) => this.budgeted(r) && (r.remaining ?? 0) > 0);
      await Promise.all(held.map((r) => store.release!(r.id, r.remaining!).catch((err: unknown) => this.#host.error(err))));
    }
  }
}
