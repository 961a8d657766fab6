/**
 * @internal The fake MX's mid-DATA cut: a `data`-phase fault with `afterBytes` must be decided at the
 * DATA command, before the message, while every other data-phase rule is decided at its end.
 */
import { forcedAction } from '../adapters/forced-reply.js';
import type { Attempt, Fault, ForcedResult, Interceptor, Rule } from '../index.js';
import type { Action } from '../smtp/handler.js';

const cuts = (fault: Fault | undefined): boolean => fault !== undefined && 'afterBytes' in fault && fault.afterBytes !== undefined;

/**
 * The ids of an interceptor's cut rules, followed through its rule events. A message is looked at for a
 * cut (an `explain` per recipient, about the cost of an uncached `check`: docs/performance.md) only
 * while there is one. Bounded by the interceptor's own rules.
 */
export class CutRules {
  readonly #ids = new Set<string>();
  readonly #stop: () => void;

  constructor(interceptor: Interceptor) {
    const track = (rule: Rule) => { if (cuts(rule.fault)) this.#ids.add(rule.id); else this.#ids.delete(rule.id); };
    const forget = (rule: Rule) => { this.#ids.delete(rule.id); };
    interceptor.on('rule:added', track).on('rule:updated', track).on('rule:removed', forget);
    for (const rule of interceptor.list()) track(rule);
    this.#stop = () => { interceptor.off('rule:added', track).off('rule:updated', track).off('rule:removed', forget); };
  }

  /** Whether any rule cuts messages. */
  get any(): boolean {
    return this.#ids.size > 0;
  }

  /** Stops following the interceptor. */
  stop(): void {
    this.#stop();
  }
}

/**
 * A `data`-phase fault with `afterBytes` cuts the message: it must be decided at the DATA command, not
 * at the end. A recipient whose first candidate is such a rule is checked here, once: when the cut's
 * `probability` draw misses, the rule `check` fell through to is that recipient's data-phase result,
 * kept in `decided` for the end of the message (checking again would count that rule twice and draw
 * the cut again). Other recipients stay decided at the end.
 */
export function cutAtData(interceptor: Interceptor, base: Attempt, recipients: readonly string[], decided: Map<string, ForcedResult | undefined>): Action | undefined {
  for (const recipient of recipients) {
    if (decided.has(recipient)) continue;
    const attempt: Attempt = { ...base, recipient, phase: 'data' };
    if (!cuts(interceptor.explain(attempt).winner?.fault)) continue;
    const result = interceptor.check(attempt);
    if (cuts(result?.fault)) return forcedAction(result);
    decided.set(recipient, result);
  }
  return undefined;
}

