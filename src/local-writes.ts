/**
 * What each local mutation sends to the stores, worked out when it is issued (`WritePipeline`): a write
 * whose effect on the store equals the mutation's effect on the index for every outcome of the writes
 * still in flight before it.
 */
import { SmtpInterceptError } from './errors.js';
import type { Rule, RuleJSON } from './rule.js';
import { type RuleStore, StoreUnavailableError } from './store.js';
import type { Issued, WritePipeline } from './write-pipeline.js';

/** Reports, as each store resolves a write: its version, and the ids it wrote (for echo recognition). */
export type Wrote = (store: RuleStore, version: number | void, ids?: readonly string[]) => void;

/** A mutation's writes, sent: resolved once durable; `settled` once the mutation applied or failed. */
export type Sent = Pick<Issued<unknown>, 'written' | 'settled'>;

/** How local writes reach the stores and the rule set (`Persistence`). */
export interface WriteChannel {
  storeFor(cluster: boolean): RuleStore | undefined;
  get(id: string): Rule | undefined;
  rules(): Iterable<Rule>;
  /** Sends writes to `stores` now: `write` calls each store synchronously, and `wrote` as each resolves. */
  send(stores: readonly RuleStore[], write: (wrote: Wrote) => Promise<unknown>): Sent;
  /** The rule's JSON with a new revision, recorded as the rule's. */
  stamp(rule: Rule): RuleJSON;
  /** This instance cleared `store` whole, at `version`. */
  cleared(store: RuleStore, version: number | void): void;
  /** Reports a failure nobody awaits. */
  failed(store: RuleStore | undefined, err: unknown): void;
}

/** Runs a store call; an error that is not ours becomes a `StoreUnavailableError` saying what failed. */
export async function durably<T>(store: RuleStore, what: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    if (err instanceof SmtpInterceptError) throw err; // already says what and where
    throw new StoreUnavailableError(`${what} failed: ${(err as Error).message}`, { cause: err });
  }
}

/** Waits for every write; rejects with the first failure once all settled, so none outlives its mutation. */
async function settleAll(writes: readonly Promise<unknown>[]): Promise<void> {
  const failed = (await Promise.allSettled(writes)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** The store side of `add`, `remove`, `clear` and background removals, issued in the write pipeline. */
export class LocalWrites {
  readonly #channel: WriteChannel;
  readonly #pipeline: WritePipeline;

  constructor(channel: WriteChannel, pipeline: WritePipeline) {
    this.#channel = channel;
    this.#pipeline = pipeline;
  }

  /** Sends a rule's write now; `apply` installs it once it is stored. */
  put<T>(rule: Rule, apply: () => T): Issued<T> {
    const store = this.#channel.storeFor(rule.cluster);
    const touches = [{ rule, expected: rule }];
    if (!store) return { touches, apply };
    const json = this.#channel.stamp(rule);
    const write = this.#channel.send([store], (wrote) => durably(store, `storing rule ${rule.id}`, () => store.put(json)).then((v) => wrote(store, v, [rule.id])));
    return { ...write, touches, apply };
  }

  /**
   * Removes rule `id` (`current`: the installed one) from its store now, then `apply(before)` removes it
   * from the index; `before` is the rule the id held once every earlier mutation applied. The removal is
   * sent whenever the id may hold a rule by then (a write of it in flight may fail; removing an absent
   * id changes nothing), and only then: otherwise nothing is written and `apply` is not called.
   */
  delete<T>(id: string, current: Rule | undefined, apply: (before: Rule | undefined) => T): Issued<T | undefined> {
    const rule = current ?? this.#pipeline.touching(id);
    if (!rule) return { apply: () => undefined };
    // Nothing in flight may change the id: `current` is the rule removed, even if used up before the turn.
    const quiet = this.#pipeline.quiet(id, current);
    let before = quiet ? current : undefined;
    return {
      ...this.#deleting(rule),
      touches: [{ rule, expected: undefined }],
      turn: () => { if (!quiet) before = this.#channel.get(id); },
      apply: () => apply(before),
    };
  }

  /**
   * Removes the rules of a `clear(scope)` from their stores now: a store holding only cleared scopes is
   * cleared whole, one that also holds the other scope loses the ids of the scope installed or written
   * by a mutation in flight. Then `apply(covers)` empties the index of the rules `covers` (of the scope,
   * and not a rule another instance added to a partly cleared store meanwhile, which the store keeps).
   */
  clear<T>(scope: 'cluster' | 'instance' | undefined, apply: (covers: (rule: Rule) => boolean) => T): Issued<T> {
    const inScope = (rule: Rule) => scope === undefined || scope === (rule.cluster ? 'cluster' : 'instance');
    const stores = [...new Set([this.#channel.storeFor(true), this.#channel.storeFor(false)])].filter((s): s is RuleStore => s !== undefined);
    const partly = new Map<RuleStore, Set<string>>();
    for (const store of stores) {
      const whole = [true, false].every((cluster) => this.#channel.storeFor(cluster) !== store || scope === undefined || scope === (cluster ? 'cluster' : 'instance'));
      if (whole) continue;
      const ids = new Set<string>();
      for (const rules of [this.#channel.rules(), this.#pipeline.inFlight()]) {
        for (const rule of rules) if (inScope(rule) && this.#channel.storeFor(rule.cluster) === store) ids.add(rule.id);
      }
      partly.set(store, ids);
    }
    const covers = (rule: Rule) => {
      const store = this.#channel.storeFor(rule.cluster);
      const ids = store && partly.get(store);
      return inScope(rule) && (ids === undefined || ids.has(rule.id));
    };
    const write = this.#channel.send(stores, (wrote) => settleAll(stores.map(async (store) => {
      const ids = partly.get(store);
      if (ids) return wrote(store, await durably(store, `removing ${ids.size} rule(s)`, () => store.delete([...ids])), [...ids]);
      const version = await durably(store, 'clearing rules', () => store.clear());
      this.#channel.cleared(store, version);
      wrote(store, version);
    })));
    return { ...write, clears: covers, apply: () => apply(covers) };
  }

  /** Removes a rule that expired or was used up from its store, in the background. */
  forget(rule: Rule): void {
    if (!this.#channel.storeFor(rule.cluster)) return;
    this.#pipeline.run(() => {
      // A write of the id in flight may fail and leave this rule stored: decide once it settled.
      if (this.#pipeline.touching(rule.id)) return { apply: () => this.forget(rule) };
      // A newer rule of the id is installed (a later add, another instance's): the delete would wipe it out.
      if (this.#channel.get(rule.id) !== undefined) return { apply: () => undefined };
      return { ...this.#deleting(rule), touches: [{ rule, expected: undefined }], apply: () => undefined };
    }).catch((err: unknown) => this.#channel.failed(this.#channel.storeFor(rule.cluster), err));
  }

  /** Sends the removal of `rule` from its store now, if it has one. */
  #deleting(rule: Rule): Sent {
    const store = this.#channel.storeFor(rule.cluster);
    if (!store) return {};
    return this.#channel.send([store], (wrote) => durably(store, `removing rule ${rule.id}`, () => store.delete([rule.id])).then((v) => wrote(store, v, [rule.id])));
  }
}
