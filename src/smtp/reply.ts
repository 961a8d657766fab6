/**
 * @internal The one place that writes SMTP reply lines (RFC 5321 §4.2): code, optional enhanced code
 * (RFC 2034, RFC 3463), text, multi-line form, and the limits every line must respect.
 */
import { SmtpInterceptError } from '../errors.js';

/** One SMTP reply: a code, an optional enhanced status code and one or more lines of text. */
export interface Reply {
  /** Three-digit reply code, 200-599 (RFC 5321 §4.2.1). */
  readonly code: number;
  /** Enhanced status code `class.subject.detail` put before the text of every line (RFC 2034 §4). */
  readonly extended?: string | undefined;
  /** The text lines; several make a multi-line reply (`250-...`, `250 ...`). Empty: the code alone. */
  readonly lines: readonly string[];
}

/** RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets including the CRLF. */
export const MAX_REPLY_LINE = 512;

const ENHANCED = /^[245]\.\d{1,3}\.\d{1,3}$/;

/** A reply the writer refuses to put on the wire; `param` names the offending part. */
export class ReplyError extends SmtpInterceptError {
  /** `code`, `extended` or `lines[i]`. */
  readonly param: string;

  constructor(param: string, message: string) {
    super('invalid_reply', `${param}: ${message}`);
    this.name = 'ReplyError';
    this.param = param;
  }
}

/** True when every character is printable US-ASCII or a space (RFC 5321 §4.2: reply text is ASCII). */
function printableAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

/**
 * The reply as wire text, every line ending in CRLF.
 * @throws {ReplyError} for a code outside 200-599, a malformed enhanced code, a line over 512 octets
 * with its CRLF, or text that is not printable US-ASCII (a CR or LF would start a forged reply).
 */
export function formatReply(reply: Reply): string {
  const { code, extended, lines } = reply;
  if (!Number.isInteger(code) || code < 200 || code > 599) throw new ReplyError('code', `must be an integer from 200 to 599, got ${String(code)}`);
  if (extended !== undefined && (!ENHANCED.test(extended) || extended[0] !== String(code)[0])) {
    throw new ReplyError('extended', `must be class.subject.detail with the class of ${code}, got ${JSON.stringify(extended)}`);
  }
  const prefix = extended === undefined ? '' : `${extended} `;
  if (lines.length === 0) return extended === undefined ? `${code}\r\n` : `${code} ${extended}\r\n`;
  let out = '';
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i]!;
    if (!printableAscii(text)) throw new ReplyError(`lines[${i}]`, 'must be printable US-ASCII (no control or non-ASCII characters)');
    const line = `${code}${i === lines.length - 1 ? ' ' : '-'}${prefix}${text}`.trimEnd();
    if (line.length + 2 > MAX_REPLY_LINE) throw new ReplyError(`lines[${i}]`, `makes a ${line.length + 2}-octet reply line; the limit is ${MAX_REPLY_LINE} with CRLF`);
    out += `${line}\r\n`;
  }
  return out;
}

// Frozen replies (the engine's own, a server's greeting, a rule's) never change: each is formatted once.
const WIRE = new WeakMap<Reply, string>();

/**
 * {@link formatReply}, remembered for a frozen reply (with frozen lines).
 * @throws {ReplyError} as `formatReply` does.
 */
export function wireOf(reply: Reply): string {
  let wire = WIRE.get(reply);
  if (wire !== undefined) return wire;
  wire = formatReply(reply);
  if (Object.isFrozen(reply) && Object.isFrozen(reply.lines)) WIRE.set(reply, wire);
  return wire;
}
