/**
 * @internal A forced result as the SMTP engine's action: the rule's exact reply (code, enhanced code,
 * text; a multi-line description is one line per `\n`), after the rule's delay; or the rule's fault.
 */
import type { ForcedFault, ForcedResult } from '../index.js';
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
    if (result.fault !== undefined) return faultAction(result); // rare: not worth a cache entry
    const reply = replyOf(result);
    action = Object.freeze({ kind: 'reply', reply: Object.freeze({ ...reply, lines: Object.freeze(reply.lines) }), delay: result.delay });
    actions.set(result, action);
  }
  return action;
}

/**
 * The engine's action for a fault. `tls` happens at STARTTLS, not at a step: at a step it is the
 * engine's own reply (`undefined`).
 */
function faultAction({ fault, delay }: ForcedFault): Action | undefined {
  switch (fault.kind) {
    case 'disconnect': return Object.freeze({ kind: 'close', delay, afterBytes: fault.afterBytes });
    case 'reset': return Object.freeze({ kind: 'reset', delay, afterBytes: fault.afterBytes });
    case 'hang': return Object.freeze({ kind: 'hang', closeAfter: delay > 0 ? delay : undefined });
    case 'throttle': return Object.freeze({ kind: 'reply', bytesPerSecond: fault.bytesPerSecond });
    case 'tls': return undefined;
  }
}

/** The `454` a `tls: 'refuse'` fault answers STARTTLS with (RFC 3207 §4): the rule's one-line description, else the RFC's text. */
export function tlsRefusal(result: ForcedResult): PlainReply {
  const given = result.rule.description;
  return { code: 454, extended: '4.7.0', description: typeof given === 'string' ? given : 'TLS not available due to temporary reason' };
}

/** A refusal naming what went wrong (e.g. an address the rule engine cannot parse), in reply-safe ASCII. */
export function refusal(code: number, extended: string, err: unknown): Action {
  const text = (err instanceof Error ? err.message : String(err)).replace(/[^\x20-\x7e]/g, '?').slice(0, 400);
  return { kind: 'reply', reply: { code, extended, lines: [text] } };
}
