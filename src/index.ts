/**
 * smtp-intercept: force SMTP delivery results from an indexed rule set.
 *
 * This entry is the pure core. Adapters (HTTP, stores, hosts, client, testing) are separate subpaths
 * and are never imported from here.
 */
export { Interceptor } from './interceptor.js';
export type { Explanation, InterceptorEvents, InterceptorOptions, RemovalReason, Scope } from './interceptor-types.js';
// A type only: rules are made by `Interceptor.add` (and `restoreRule`), never by `new Rule()`.
export type { Rule, RuleJSON } from './rule.js';
export type { Phase, RuleInput, SelectorFields } from './rule-input.js';
export type { GreylistInput, GreylistSpec, RateInput, RatePer, RateSpec } from './gate-input.js';
export type { GateExplanation, GreylistExplanation, RateExplanation, Triplet } from './gate-state.js';
export type { RuleFilter } from './rule-filter.js';
export { MAX_PAGE_SIZE } from './rule-page.js';
export type { PageOptions, RulePage } from './rule-page.js';
export type { Attempt } from './attempt.js';
export type { ForcedFault, ForcedReply, ForcedResult, Outcome } from './result.js';
export type { Fault, FaultKind, TlsFault } from './fault.js';
export { SmtpInterceptError, ValidationError } from './errors.js';
export type { ErrorDetail } from './errors.js';
export { MemoryStore, StoreOutcomeUnknownError, StoreUnavailableError, withCounters } from './store.js';
export type { CounterDelta, RuleStore, StoreChange } from './store.js';
export { restoreRule } from './stored-rule.js';
export { channels } from './diagnostics.js';
export type { CheckMessage, RuleAddedMessage, RuleRemovedMessage, RuleUpdatedMessage, StoreErrorMessage } from './diagnostics.js';
