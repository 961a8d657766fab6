/**
 * Cluster-wide `times` budgets: an instance forces a budgeted cluster rule only with an application it
 * has reserved from the cluster store. Every reservation, release and reported use names the rule's
 * revision, so nothing granted or used under one revision is ever credited to another.
 */
import { type RuleStore, StoreOutcomeUnknownError, StoreUnavailableError } from './store.js';
import type { Rule } from './rule.js';

/** What budgets need from their owner. */
export interface BudgetHost {
  now(): number;
  /** The installed rule with this id. */
  get(id: string): Rule | undefined;
  rules(): Iterable<Rule>;
  /** The revision a rule was stored with (`''` for a rule the store gave without one). */
  revisionOf(rule: Rule): string;
  error(err: unknown): void;
  /** The cluster store answered: an outage, if any, is over. */
  answered(): void;
  /** This instance's origin, unique among instances: request ids are `<origin>.<n>`. */
  readonly origin: string;
}

/** Wait before asking again for a budget the store refused (others hold the rest). */
const REFUSED_BACKOFF_MS = 200;
/** Wait before asking again after the store failed (it is probably unreachable). */
const FAILED_BACKOFF_MS = 1000;

export class Budgets {
  readonly #host: BudgetHost;
  readonly #store: RuleStore | undefined;
  /** Earliest time (ms) a rule may ask its store again, after a refusal or a failure. */
  readonly #backoff = new WeakMap<Rule, number>();
  /** Reservations in flight, by rule revision (the object), with their outcome. */
  readonly #refilling = new Map<Rule, Promise<void>>();
  /** Applications made here and not yet reported, by rule revision. Bounded by the installed rules. */
  readonly #unreported = new Map<Rule, number>();
  /** Reservations whose outcome is unknown, repeated as they were (same request id and uses) before any other. */
  readonly #unknown = new Map<Rule, { request: string; used: number }>();
  #requests = 0;

  constructor(host: BudgetHost, clusterStore: RuleStore | undefined) {
    this.#host = host;
    this.#store = clusterStore;
  }

  /** Whether `rule` draws on a cluster-wide `times` budget held by the cluster store. */
  budgeted(rule: Rule): boolean {
    return rule.cluster && rule.remaining !== undefined && this.#store?.reserve !== undefined;
  }

  /**
   * A budgeted rule entering the index starts with no local applications: it reserves one when an
   * attempt first matches here, so the budget goes to the instances that see the traffic.
   */
  adopt(rule: Rule): void {
    if (this.budgeted(rule)) rule.remaining = 0;
  }

  /** After a local add: reserves the first application; resolves once the store answered. */
  async added(rule: Rule): Promise<void> {
    if (!this.budgeted(rule)) return;
    rule.remaining = 0;
    await this.refill(rule);
  }

  /** Records that a budgeted rule forced one attempt here; reserves the next application when none is left. */
  used(rule: Rule): void {
    this.#unreported.set(rule, (this.#unreported.get(rule) ?? 0) + 1);
    if (rule.remaining === 0) void this.refill(rule);
  }

  /**
   * Reports unreported uses of a budgeted rule and reserves one more application. When nothing is left
   * and this instance holds none, the rule stays (skipped) until the store removes it for everyone, once
   * every granted application has been used. Never rejects: failures are reported as `error`.
   */
  refill(rule: Rule): Promise<void> {
    const store = this.#store;
    const inFlight = this.#refilling.get(rule);
    if (inFlight) return inFlight;
    if (!store?.reserve || !this.budgeted(rule)) return Promise.resolve();
    const repeat = this.#unknown.get(rule);
    const used = repeat?.used ?? this.#unreported.get(rule) ?? 0;
    // After a refusal or a failure, wait before asking again (uses still get reported at once).
    if ((repeat !== undefined || used === 0) && (this.#backoff.get(rule) ?? 0) > this.#host.now()) return Promise.resolve();
    if (!repeat) this.#unreported.delete(rule);
    const request = repeat?.request ?? `${this.#host.origin}.${++this.#requests}`;
    const revision = this.#host.revisionOf(rule);
    const done = store.reserve(rule.id, 1, used, revision, request).then((granted) => {
      this.#refilling.delete(rule);
      this.#unknown.delete(rule);
      this.#host.answered();
      if (this.#host.get(rule.id) !== rule) {
        // Replaced or removed meanwhile: the grant goes back to the revision it came from.
        if (granted > 0) void store.release?.(rule.id, granted, revision).catch((err: unknown) => this.#host.error(err));
        return;
      }
      rule.remaining = (rule.remaining ?? 0) + granted;
      if (granted === 0) this.#backoff.set(rule, this.#host.now() + REFUSED_BACKOFF_MS);
      if (this.#unreported.has(rule)) void this.refill(rule);
    }, (err: unknown) => {
      this.#refilling.delete(rule);
      if (err instanceof StoreOutcomeUnknownError) {
        // It may have been recorded: repeat it as it was, never count its uses twice or lose its grant.
        this.#unknown.set(rule, { request, used });
      } else if (!repeat && this.#host.get(rule.id) === rule) {
        // Certainly not recorded: report them next time, still against this revision.
        this.#unreported.set(rule, (this.#unreported.get(rule) ?? 0) + used);
      }
      this.#backoff.set(rule, this.#host.now() + FAILED_BACKOFF_MS);
      this.#host.error(err instanceof StoreUnavailableError ? err : new StoreUnavailableError(`reserving an application of rule ${rule.id} failed: ${(err as Error).message}`, { cause: err }));
    });
    this.#refilling.set(rule, done);
    return done;
  }

  /** A rule revision left the index: its unreported uses are reported (to its own revision) in the background. */
  retired(rule: Rule): void {
    void this.#settle(rule).catch((err: unknown) => this.#host.error(err));
  }

  /** Reports a rule revision's unreported uses and repeats its request of unknown outcome, giving back any grant. */
  async #settle(rule: Rule): Promise<void> {
    const store = this.#store;
    const used = this.#unreported.get(rule);
    const repeat = this.#unknown.get(rule);
    this.#unreported.delete(rule);
    this.#unknown.delete(rule);
    if (!store?.reserve) return;
    const revision = this.#host.revisionOf(rule);
    if (repeat) {
      const granted = await store.reserve(rule.id, 1, repeat.used, revision, repeat.request);
      if (granted > 0) await store.release?.(rule.id, granted, revision);
    }
    if (used !== undefined) await store.reserve(rule.id, 0, used, revision, `${this.#host.origin}.${++this.#requests}`);
  }

  /** Reports every unreported use and gives back unused reservations (on close). */
  async close(): Promise<void> {
    const store = this.#store;
    await Promise.all(this.#refilling.values());
    const pending = new Set([...this.#unreported.keys(), ...this.#unknown.keys()]);
    await Promise.all([...pending].map((r) => this.#settle(r).catch((err: unknown) => this.#host.error(err))));
    if (store?.release) {
      const held = [...this.#host.rules()].filter((r) => this.budgeted(r) && (r.remaining ?? 0) > 0);
      await Promise.all(held.map((r) => store.release!(r.id, r.remaining!, this.#host.revisionOf(r)).catch((err: unknown) => this.#host.error(err))));
    }
  }
}
