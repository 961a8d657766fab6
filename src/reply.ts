/**
 * Reply text rules (RFC 5321 §4.2, §4.5.3.1.5) and the one place that builds reply lines: every line
 * `<code>-<extended> <text>` (last: `<code> <extended> <text>`) is US-ASCII and fits 512 octets with
 * its CRLF.
 */

/** Longest reply line, CRLF included (RFC 5321 §4.5.3.1.5). */
export const MAX_REPLY_LINE_OCTETS = 512;

/** Most lines a multi-line `description` may have: bounds the memory of one rule. */
export const MAX_REPLY_LINES = 100;

// Printable US-ASCII only: reply text is 7-bit (RFC 5321 §4.2.1), and a control character could
// inject extra reply lines or log lines.
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
// Control characters (C0, DEL, C1): reported apart from other non-ASCII text as the injection risk.
const CONTROL = /\p{Cc}/u;

/**
 * Characters of text one reply line may carry after `<code>-<extended> `, so that the line with its
 * CRLF is at most {@link MAX_REPLY_LINE_OCTETS}. Reply codes always have three digits.
 */
export function maxTextLength(extended: string): number {
  return MAX_REPLY_LINE_OCTETS - (3 + 1 + extended.length + 1) - 2;
}

/**
 * The problem with one line of reply text, or `undefined` when it can go on the wire. `name` is how
 * the message names the line (`description`, `description[2]`).
 */
export function replyTextProblem(text: string, name: string, extended: string): { code: string; message: string } | undefined {
  if (!PRINTABLE_ASCII.test(text)) {
    if (CONTROL.test(text)) return { code: 'invalid_format', message: `${name} must not contain control characters (CR, LF, NUL, ...)` };
    const at = [...text].findIndex((c) => c > '\x7e');
    const char = [...text][at]!;
    return {
      code: 'invalid_format',
      message: `${name} must be printable US-ASCII (SMTP reply text is 7-bit, RFC 5321 §4.2); found U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')} "${char}" at character ${at + 1}`,
    };
  }
  if (text.endsWith(' ')) return { code: 'invalid_format', message: `${name} must not end with a space (the reply line would end with one)` };
  const max = maxTextLength(extended);
  if (text.length > max) {
    return {
      code: 'out_of_range',
      message: `${name} is ${text.length} characters; a reply line "<code> ${extended} <text>" must fit ${MAX_REPLY_LINE_OCTETS} octets with CRLF, leaving at most ${max}`,
    };
  }
  return undefined;
}

/**
 * The wire lines of a reply, without CRLF: `["550-5.1.1 first", "550 5.1.1 second"]`; one entry for a
 * single line. The text must have passed {@link replyTextProblem}.
 */
export function buildReplyLines(code: number, extended: string, lines: readonly string[]): readonly string[] {
  const last = lines.length - 1;
  return Object.freeze(lines.map((text, i) => `${code}${i === last ? ' ' : '-'}${extended} ${text}`));
}
