/**
 * What part of the engine's `hits` of each rule Redis already holds, as far as this `RedisStore` knows:
 * the hits the engine loaded or heard of, plus the hits it saved since. An update's JSON carries every
 * hit the engine counted so far (`CounterFlush.hitsSoFar`), but in a cluster Redis also holds hits
 * other instances saved since this one loaded: `PUT` adds to Redis's total only the update's hits that
 * Redis does not hold yet (the JSON's `hits` minus this share), so an update neither loses the hits
 * counted while it was in flight nor overwrites other instances' saved hits.
 *
 * Own calls change the share when they are made, not when answered: Redis applies one connection's
 * calls in call order, so a `PUT` sent after a save counts the save's hits as held. A call that
 * certainly changed nothing (a failed script, or a delta of a revision Redis no longer holds) is taken
 * back; one of unknown outcome is kept (counted at most once: if it was lost, so are its hits).
 * Published removals come later than the calls: one older than this store's last write of the rule
 * (or while that write is in flight) is its own echo, or superseded, and is ignored. Bounded by the
 * rules of the store: entries go with their rule.
 */
import type { RuleJSON } from '../index.js';

/** Per rule, the engine's hits Redis holds (see the module comment); one per `RedisStore`. */
export class HitShares {
  readonly #held = new Map<string, number>();
  /** Per rule this store wrote: the version of its last write of it, `Infinity` while one is in flight. */
  readonly #written = new Map<string, number>();
  /** Per rule, this store's writes of it in flight. */
  readonly #writing = new Map<string, number>();

  /**
   * A snapshot at `version` was loaded: the engine keeps its count of rules it has, and takes the
   * stored one of new ones; rules absent from it were removed (unless this store wrote them since).
   */
  loaded(rules: readonly RuleJSON[], version: number): void {
    if (this.#held.size === 0) {
      // The first load (start-up): nothing to keep or remove, so no set of a million ids.
      for (const rule of rules) this.#held.set(rule.id, rule.hits);
      return;
    }
    const ids = new Set<string>();
    for (const rule of rules) {
      ids.add(rule.id);
      if (!this.#held.has(rule.id)) this.#held.set(rule.id, rule.hits);
    }
    for (const id of this.#held.keys()) if (!ids.has(id)) this.heardRemoval(id, version);
  }

  /** A write of `rule` was published: an engine that had it keeps its count, one that did not takes the JSON's. */
  heard(rule: RuleJSON): void {
    if (!this.#held.has(rule.id)) this.#held.set(rule.id, rule.hits);
  }

  /** A removal of `id` at `version` was published. */
  heardRemoval(id: string, version: number): void {
    if ((this.#written.get(id) ?? 0) < version) this.#forget(id);
  }

  /** A clear at `version` was published. */
  heardClear(version: number): void {
    for (const id of this.#held.keys()) this.heardRemoval(id, version);
  }

  /**
   * This store writes `rule`: returns the share to send with it (`undefined` for a rule it never loaded,
   * heard of or wrote: the script then takes the replaced JSON's `hits`); from then on Redis holds all
   * of the JSON's hits.
   */
  writing(rule: RuleJSON): number | undefined {
    const before = this.#held.get(rule.id);
    this.#held.set(rule.id, rule.hits);
    this.#writing.set(rule.id, (this.#writing.get(rule.id) ?? 0) + 1);
    this.#written.set(rule.id, Infinity);
    return before;
  }

  /** The write of `rule` ended: at `version`, or certainly failed (`undefined`: the share is what it was before, plus what saves added since). */
  wrote(rule: RuleJSON, before: number | undefined, version: number | undefined): void {
    const left = (this.#writing.get(rule.id) ?? 1) - 1;
    if (left > 0) this.#writing.set(rule.id, left);
    else {
      this.#writing.delete(rule.id);
      this.#written.set(rule.id, version ?? 0);
    }
    const now = this.#held.get(rule.id);
    if (version !== undefined || now === undefined) return;
    if (before === undefined) this.#forget(rule.id);
    else this.#held.set(rule.id, now - rule.hits + before);
  }

  /** A save of `hits` for rule `id` was sent (`-hits`: it certainly was not counted). */
  add(id: string, hits: number): void {
    const now = this.#held.get(id);
    if (now !== undefined) this.#held.set(id, now + hits);
  }

  /**
   * This store removes `ids` (all rules: `undefined`), after its earlier calls: returns what to give
   * back should the removal certainly fail.
   */
  removing(ids: readonly string[] | undefined): Map<string, number> {
    const before = new Map<string, number>();
    for (const id of ids ?? [...this.#held.keys()]) {
      const share = this.#held.get(id);
      if (share !== undefined) before.set(id, share);
      this.#forget(id);
    }
    return before;
  }

  /** A removal certainly failed: the rules are still there, with the shares they had. */
  unremoved(before: ReadonlyMap<string, number>): void {
    for (const [id, share] of before) if (!this.#held.has(id)) this.#held.set(id, share);
  }

  #forget(id: string): void {
    this.#held.delete(id);
    this.#written.delete(id);
  }
}
