/**
 * @internal A forced result as the SMTP engine's action: the rule's exact reply (code, enhanced code,
 * text; a multi-line description is one line per `\n`), after the rule's delay.
 */
import type { ForcedResult } from '../index.js';
import type { Action } from '../smtp/handler.js';
import type { Reply } from '../smtp/reply.js';

/** The fields of a reply given without a rule. */
export interface PlainReply {
  readonly code: number;
  readonly extended: string;
  readonly description: string;
}

/** The wire reply of a forced result or a plain reply. */
export function replyOf(result: PlainReply): Reply {
  return { code: result.code, extended: result.extended, lines: result.description.split('\n') };
}

// A rule's result object is reused for every attempt it forces: so is its action.
const actions = new WeakMap<ForcedResult, Action>();

/** The engine's action for a forced result; `undefined` (the engine's own reply) when nothing is forced. */
export function forcedAction(result: ForcedResult | undefined): Action | undefined {
  if (result === undefined) return undefined;
  let action = actions.get(result);
  if (action === undefined) {
    const reply = replyOf(result);
    action = Object.freeze({ kind: 'reply', reply: Object.freeze({ ...reply, lines: Object.freeze(reply.lines) }), delay: result.delay });
    actions.set(result, action);
  }
  return action;
}

/** A refusal naming what went wrong (e.g. an address the rule engine cannot parse), in reply-safe ASCII. */
export function refusal(code: number, extended: string, err: unknown): Action {
  const text = (err instanceof Error ? err.message : String(err)).replace(/[^\x20-\x7e]/g, '?').slice(0, 400);
  return { kind: 'reply', reply: { code, extended, lines: [text] } };
}
