/**
 * Saves rule counters (`hits`, and applications of `times`) to their stores in batches, never on the
 * `check` path: `check` adds to an in-memory tally per rule, and a timer (at most every `intervalMs`)
 * and `close()` turn the tally into `CounterDelta`s, one `saveCounters` call per store. A failed save
 * keeps its deltas for the next attempt, so after a graceful stop the stores hold exact counts and a
 * crash loses at most what was counted since the last save that succeeded.
 *
 * Updates: a new revision's JSON carries every hit counted so far (`hitsSoFar`), and a store's `put`
 * replaces the rule whole, so no hit counted before the update is ever sent for the new revision (the
 * old revision's tally, and a failed batch merged back into it, stay with the old revision: the store
 * ignores them once it is replaced, and applies them if the update's write failed). Hits counted while
 * the update's write is in flight are *held* for it: the new revision's once its write succeeds, the
 * old one's if it fails. Uses of `times` stay with the rule that used them (a new revision restarts
 * `times`). A save of unknown outcome is not repeated (at most once): it may have been recorded.
 */
import { SmtpInterceptError } from './errors.js';
import type { Rule } from './rule.js';
import { type CounterDelta, type RuleStore, StoreOutcomeUnknownError, StoreUnavailableError } from './store.js';

/** What the flusher needs from the engine's persistence. */
export interface CounterHost {
  /** The store holding rules of this scope, if any. */
  storeFor(cluster: boolean): RuleStore | undefined;
  /** The revision a rule was stored with (`''` when the store gave none). */
  revisionOf(rule: Rule): string;
  /** Reports a failed save (once per outage: the host knows outages). */
  failed(store: RuleStore, err: unknown): void;
  /** The store answered: an outage, if any, is over. */
  answered(store: RuleStore): void;
}

/** What one rule revision counted since its counts were last saved. */
interface Tally {
  hits: number;
  used: number;
}

/** A revision whose write is in flight. */
interface Held {
  /** Hits counted since it was issued (on the installed rule): its own if its write succeeds. */
  hits: number;
  /** The revision it replaces (installed, or itself in flight): the held hits go back to it on failure. */
  previous: Rule | undefined;
  /** Its write succeeded and it was installed (it settles right after). */
  applied: boolean;
}

export class CounterFlush {
  readonly #host: CounterHost;
  /** Whether this rule object is the installed revision of its id. */
  readonly #installed: (rule: Rule) => boolean;
  readonly #intervalMs: number;
  /** Which scopes have a store that saves counters: other rules are not tallied at all. */
  readonly #saves: { readonly cluster: boolean; readonly instance: boolean };
  /** Counts not yet saved, by rule revision (the object). Bounded by the installed rules (see `#keep`). */
  #tally = new Map<Rule, Tally>();
  /** Revisions whose write is in flight, with the hits held for them: bounded by the writes in flight. */
  readonly #held = new Map<Rule, Held>();
  /** Per id, the newest revision in flight: every hit of the id counted now is held for it. */
  readonly #heads = new Map<string, Rule>();
  /** `#heads.size`, read on every count as a plain field. */
  #writing = 0;
  #timer: NodeJS.Timeout | undefined;
  /** The save in flight: saves run one after another, so a rule's deltas reach its store in order. */
  #saving: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(host: CounterHost, installed: (rule: Rule) => boolean, intervalMs: number) {
    this.#host = host;
    this.#installed = installed;
    this.#intervalMs = intervalMs;
    this.#saves = { cluster: host.storeFor(true)?.saveCounters !== undefined, instance: host.storeFor(false)?.saveCounters !== undefined };
  }

  /**
   * The hot path: `rule` forced one attempt (`used`: it took one application of a `times` that is not
   * a cluster budget; budgets count theirs through `reserve`). One Map lookup; the first count of a rule
   * since the last save arms the timer.
   */
  count(rule: Rule, used: 0 | 1): void {
    if (this.#writing !== 0) {
      const head = this.#heads.get(rule.id);
      if (head !== undefined) {
        this.#held.get(head)!.hits++;
        if (used === 1) this.#add(rule, 0, 1);
        return;
      }
    }
    this.#add(rule, 1, used);
  }

  /**
   * The hits of rule `id` counted so far, for the JSON of a new revision replacing `current` (the
   * installed rule, or the revision in flight it replaces): those of the installed rule, or of the
   * newest revision in flight with the hits held for it.
   */
  hitsSoFar(id: string, current: Rule): number {
    const head = this.#heads.get(id);
    return head === undefined ? current.count : head.count + this.#held.get(head)!.hits;
  }

  /**
   * The write of `rule` (a new revision of its id, carrying `hitsSoFar`) was sent: from now on the
   * id's hits are held for it until it settles. `installed`: the rule the index holds now.
   */
  issued(rule: Rule, installed: Rule | undefined): void {
    this.#held.set(rule, { hits: 0, previous: this.#heads.get(rule.id) ?? installed, applied: false });
    this.#heads.set(rule.id, rule);
    this.#writing = this.#heads.size;
  }

  /**
   * `rule`'s write succeeded and it is being installed: the hits held for it are its own (to save),
   * and its count is every hit of the id, including those held for newer revisions in flight (counted
   * on the rule it replaces, they fall back to it should those writes fail).
   */
  applied(rule: Rule): void {
    const held = this.#held.get(rule);
    if (held === undefined) return;
    held.applied = true;
    let hits = 0;
    for (let r = this.#heads.get(rule.id); r !== undefined; r = this.#held.get(r)?.previous) {
      hits += this.#held.get(r)?.hits ?? 0;
      if (r === rule) break;
    }
    rule.count += hits;
    if (held.hits > 0) this.#add(rule, held.hits, 0);
    held.hits = 0;
  }

  /** `rule`'s mutation applied or failed: on failure its held hits go back to the revision it replaced. */
  settled(rule: Rule): void {
    const held = this.#held.get(rule);
    if (held === undefined) return;
    this.#held.delete(rule);
    if (this.#heads.get(rule.id) === rule) this.#heads.delete(rule.id);
    this.#writing = this.#heads.size;
    if (held.applied) return;
    // Newer revisions replacing this one would fall back to what it replaced.
    for (const later of this.#held.values()) if (later.previous === rule) later.previous = held.previous;
    const previous = held.previous;
    if (previous === undefined || held.hits === 0) return;
    const into = this.#held.get(previous);
    if (into !== undefined) into.hits += held.hits;
    else if (this.#keep(previous)) this.#add(previous, held.hits, 0);
  }

  /**
   * Another instance's revision `next` replaced `previous` (same id): hits counted on `previous` and
   * not yet saved move to `next` (the store ignores deltas of a revision it no longer has). Uses of
   * `times` stay behind: the new revision's `times` starts afresh. A local update moves nothing: its
   * JSON carries the hits (see `issued`).
   */
  replaced(previous: Rule, next: Rule): void {
    if (this.#held.has(next)) return;
    const tally = this.#tally.get(previous);
    if (tally === undefined || tally.hits === 0) return;
    this.#tally.delete(previous);
    const into = this.#tally.get(next);
    if (into) into.hits += tally.hits;
    else this.#tally.set(next, { hits: tally.hits, used: 0 });
  }

  /**
   * Sends `rule`'s unsaved counts now, without waiting for a save in flight: an update issues this
   * before it writes the new revision, and stores apply calls in call order, so the counts land on the
   * revision they belong to before it is replaced. Never rejects; `close()` waits for it.
   */
  saveNow(rule: Rule): void {
    const tally = this.#tally.get(rule);
    const store = this.#host.storeFor(rule.cluster);
    if (tally === undefined || store?.saveCounters === undefined) return;
    this.#tally.delete(rule);
    const sent = this.#saveTo(store, [[rule, tally]]);
    this.#saving = Promise.all([this.#saving, sent]).then(() => undefined);
  }

  /** Saves every tally now (after the save in flight, if any). Never rejects. */
  flush(): Promise<void> {
    const run = this.#saving.then(() => this.#save());
    this.#saving = run;
    return run;
  }

  /** Stops the timer and saves what is left: after it resolves, every count reached its store (or was reported failed). */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }

  async #save(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#tally;
    if (batch.size === 0) return;
    this.#tally = new Map();
    const byStore = new Map<RuleStore, [Rule, Tally][]>();
    for (const entry of batch) {
      const store = this.#host.storeFor(entry[0].cluster);
      if (store?.saveCounters === undefined) continue;
      const entries = byStore.get(store);
      if (entries) entries.push(entry);
      else byStore.set(store, [entry]);
    }
    await Promise.all([...byStore].map(([store, entries]) => this.#saveTo(store, entries)));
    // Counted during the save, or kept from a failed one: saved one interval later.
    if (this.#tally.size > 0 && this.#timer === undefined) this.#arm();
  }

  /** Saves in `intervalMs` (0: only on `close()`), on a timer that never keeps the process alive. */
  #arm(): void {
    if (this.#intervalMs === 0 || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, this.#intervalMs);
    this.#timer.unref();
  }

  async #saveTo(store: RuleStore, entries: readonly [Rule, Tally][]): Promise<void> {
    const deltas: CounterDelta[] = entries.map(([rule, tally]) => ({
      id: rule.id,
      revision: this.#host.revisionOf(rule),
      hits: tally.hits,
      used: tally.used,
    }));
    try {
      await store.saveCounters!(deltas);
      this.#host.answered(store);
    } catch (err) {
      // A save that may have been recorded (no answer in time) is not repeated: its counts could land
      // twice (a rule used up too early). Dropping them loses at most one batch, like a crash.
      if (!(err instanceof StoreOutcomeUnknownError)) for (const [rule, tally] of entries) if (this.#keep(rule)) this.#add(rule, tally.hits, tally.used);
      this.#host.failed(store, err instanceof SmtpInterceptError ? err : new StoreUnavailableError(`saving counters of ${deltas.length} rule(s) failed: ${(err as Error).message}`, { cause: err }));
    }
  }

  /**
   * Whether the counts of a failed save are kept for the next one: those of installed rules, and of
   * rules used up here (the saved uses remove them from the store should its removal fail too). Counts
   * of replaced or removed revisions are dropped, which bounds the tally by the rules.
   */
  #keep(rule: Rule): boolean {
    return this.#installed(rule) || rule.remaining === 0;
  }

  /** Adds to the tally of `rule` (of a scope whose store saves counters); the first count arms the timer. */
  #add(rule: Rule, hits: number, used: number): void {
    if (!(rule.cluster ? this.#saves.cluster : this.#saves.instance)) return;
    const tally = this.#tally.get(rule);
    if (tally !== undefined) {
      tally.hits += hits;
      tally.used += used;
      return;
    }
    this.#tally.set(rule, { hits, used });
    if (this.#timer === undefined) this.#arm();
  }
}
