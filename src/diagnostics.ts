/**
 * `node:diagnostics_channel` channels of the engine, named `smtp-intercept:<noun>:<event>` as undici
 * names its own. Publishers test `hasSubscribers` first, so with nobody subscribed a check pays one
 * property read and builds no payload (docs/performance.md, "diagnostics channels").
 */
import diagnostics from 'node:diagnostics_channel';
import type { Attempt } from './attempt.js';
import type { RemovalReason } from './interceptor-types.js';
import type { ForcedResult } from './result.js';
import type { Rule } from './rule.js';

/** Payload of `smtp-intercept:check:result`: one `check` and what it returned. */
export interface CheckMessage {
  /** The interceptor that checked (one process may run several). */
  readonly interceptor: object;
  /** The attempt as the caller passed it (not copied: read it in the subscriber, do not keep it). */
  readonly attempt: Attempt;
  /** The forced result, or `undefined` when the attempt passed through. */
  readonly result: ForcedResult | undefined;
}

/** Payload of `smtp-intercept:rule:added`. */
export interface RuleAddedMessage { readonly interceptor: object; readonly rule: Rule }
/** Payload of `smtp-intercept:rule:updated`: the new rule and the one it replaced (same id). */
export interface RuleUpdatedMessage { readonly interceptor: object; readonly rule: Rule; readonly previous: Rule }
/** Payload of `smtp-intercept:rule:removed`. */
export interface RuleRemovedMessage { readonly interceptor: object; readonly rule: Rule; readonly reason: RemovalReason }
/**
 * Payload of `smtp-intercept:store:error`: a store failure. `operation` is `add`, `remove` or `clear`
 * when the call that wrote rejected with it, `background` for a failure nobody awaits (the
 * interceptor's `error` event: a lost connection, an invalid remote change, a background write).
 */
export interface StoreErrorMessage {
  readonly interceptor: object;
  readonly operation: 'add' | 'remove' | 'clear' | 'background';
  readonly error: unknown;
}

/**
 * The channel names, for `diagnostics_channel.subscribe(name, fn)`.
 *
 * @example
 * ```ts
 * import { subscribe } from 'node:diagnostics_channel'
 * import { channels, type CheckMessage } from 'smtp-intercept'
 * subscribe(channels.check, (m) => { const { result } = m as CheckMessage; if (result) console.log(result.reply) })
 * ```
 */
export const channels = Object.freeze({
  check: 'smtp-intercept:check:result',
  ruleAdded: 'smtp-intercept:rule:added',
  ruleUpdated: 'smtp-intercept:rule:updated',
  ruleRemoved: 'smtp-intercept:rule:removed',
  storeError: 'smtp-intercept:store:error',
} as const);

/** @internal The channel objects the interceptor publishes on (created once, looked up never). */
export const checkChannel = diagnostics.channel(channels.check);
/** @internal */
export const ruleAddedChannel = diagnostics.channel(channels.ruleAdded);
/** @internal */
export const ruleUpdatedChannel = diagnostics.channel(channels.ruleUpdated);
/** @internal */
export const ruleRemovedChannel = diagnostics.channel(channels.ruleRemoved);
/** @internal */
export const storeErrorChannel = diagnostics.channel(channels.storeError);

/** @internal Publishes a store failure of `operation` (when subscribed) and rethrows nothing. */
export function publishStoreError(interceptor: object, operation: StoreErrorMessage['operation'], error: unknown): void {
  if (storeErrorChannel.hasSubscribers) storeErrorChannel.publish({ interceptor, operation, error } satisfies StoreErrorMessage);
}
