/**
 * @internal How the smtp-server based adapters turn a forced result into smtp-server's reply: an Error
 * with `responseCode`, given after the rule's delay.
 */
import type { ForcedReply, ForcedResult } from '../index.js';

/** smtp-server's per-command callback; at DATA a message string replaces the text of the 250. */
export type Callback = (err?: Error | null, message?: string) => void;

/** The error smtp-server writes as `<code> <extended> <description>`. */
export function replyError(result: Pick<ForcedReply, 'code' | 'extended' | 'description'>): Error {
  // smtp-server writes `<responseCode> <message>`; with its default hideENHANCEDSTATUSCODES it adds no
  // enhanced code of its own, so the reply is exactly `code extended description`.
  return Object.assign(new Error(`${result.extended} ${result.description}`), { responseCode: result.code });
}

/**
 * smtp-server gives no hold of the socket: a fault cannot be performed. The client gets a 421 saying
 * so and the process a warning, never a silent accept.
 */
function faultRefused(kind: string): Error {
  const text = `forced fault ${kind} needs the socket, which smtp-server does not give: use createFakeMx`;
  process.emitWarning(text, 'SmtpInterceptWarning');
  return replyError({ code: 421, extended: '4.3.0', description: text });
}

/**
 * Answers with `result` (accepting when there is none, or it is a 2xx) after its delay. At DATA
 * (`data`), smtp-server lets a forced 2xx carry its own text after the 250.
 */
export function answer(result: ForcedResult | undefined, callback: Callback, data = false): void {
  const done = () => {
    if (result === undefined) return callback(null);
    if (result.fault !== undefined) return callback(faultRefused(result.fault.kind));
    if (result.outcome !== 'accepted') return callback(replyError(result));
    if (data) return callback(null, `${result.extended} ${result.description}`);
    callback(null);
  };
  if (result !== undefined && result.delay > 0) setTimeout(done, result.delay);
  else done();
}
