/**
 * What an instance knows of one watched store's changes, and the one ordering rule over them (see
 * `persistence.ts`): a reported change waits while a local write that may come before it in the store
 * is unapplied, and is dropped when it is not above the last change applied, or not above this
 * instance's own later write of the same rule (its echo, or older) or own clear.
 */
import type { RuleJSON } from './rule.js';
import type { StoreChange } from './store.js';

/** A local write to a watched store, from its issue until its mutation applied or failed. */
export interface Write {
  /** The version it resolved to, once it has. */
  version?: number;
}

/** Changes held while writes are in flight; more means a runaway store, reported and dropped. */
export const MAX_HELD = 100_000;

/** One watched store's reported changes and local writes. */
export class ChangeStream {
  /** Version of the last reported change applied. */
  heard = 0;
  /** The load is in flight: reported changes wait in `held`. */
  busy = true;
  /** Reported changes not applied yet, in the order reported. */
  readonly held: StoreChange[] = [];
  /** Local writes in flight, oldest first. */
  writes: Set<Write> | undefined;
  /** Ids this instance wrote, with the version of that write, until the store's reports pass it. */
  readonly own = new Map<string, number>();
  /** Version of this instance's last clear of the store. */
  cleared = 0;
  /**
   * The snapshot the load just installed, until the next change is applied: a `reset` carrying this very
   * array (RedisStore reports its first snapshot as one too) is what the index holds of the store.
   */
  restored: readonly RuleJSON[] | undefined;

  /** Holds a reported change; `false` when `MAX_HELD` are held already (the change is dropped). */
  hold(change: StoreChange): boolean {
    if (this.held.length >= MAX_HELD) return false;
    this.held.push(change);
    return true;
  }

  /** Records this instance's write of `ids` at `version`: reported changes up to it are its echo or older. */
  wrote(version: number, ids: readonly string[]): void {
    for (const id of ids) this.own.set(id, Math.max(version, this.own.get(id) ?? 0));
  }

  /**
   * Takes the held changes that may be applied now, in the order reported: those before the first that
   * an unapplied local write may precede in the store (one at or above the version of the oldest
   * unapplied write, or any while that write has not resolved yet: its version is unknown).
   */
  due(): StoreChange[] {
    if (this.busy) return [];
    const oldest: Write | undefined = this.writes?.values().next().value;
    let n = oldest === undefined ? this.held.length : 0;
    // A change without a number passes through: the caller reports it.
    if (oldest?.version !== undefined) while (n < this.held.length && !(this.held[n]!.version >= oldest.version)) n++;
    return n > 0 ? this.held.splice(0, n) : [];
  }

  /**
   * Whether `change` is a reset of the snapshot the load just installed, with nothing applied since: no
   * reported change, no local write resolved (`own`), in flight (`writes`) or clear. Applying it would
   * find every rule installed at its revision and remove none: it is skipped, saving a walk of every rule.
   */
  unchanged(change: StoreChange): boolean {
    return change.type === 'reset' && change.rules === this.restored && this.own.size === 0 && !(this.writes?.size) && this.cleared === 0;
  }

  /** Whether a change of `id` at `version` is at or below this instance's own later write (or clear) of it. */
  superseded(id: string, version: number): boolean {
    return (this.own.get(id) ?? 0) >= version || this.cleared >= version;
  }

  /** The store reports in version order: nothing older than `version` is still to come. */
  passed(version: number): void {
    for (const [id, own] of this.own) if (own <= version) this.own.delete(id);
  }
}
