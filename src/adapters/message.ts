/**
 * @internal What the receiving adapters (the fake MX, `interceptServerOptions`) read from a message:
 * header fields, campaign tags from the envelope and a header, and the `AcceptedMessage` they keep.
 */

/** How the fake MX finds an attempt's campaign tags. */
export interface TagSource {
  /**
   * Header carrying tags (comma separated), read when the message arrives (headers come with DATA).
   * @default 'X-Campaign'
   */
  header?: string | false;
  /**
   * Take the tag from the MAIL FROM address extension, `bounces+Campaign1@example.com` -> `Campaign1`,
   * available from the `mail` phase on. @default true
   */
  fromAddressExtension?: boolean;
}

/** A message the fake MX accepted. */
export interface AcceptedMessage {
  /** The SMTP session's id. */
  readonly session: string;
  readonly envelope: { readonly mailFrom: string; readonly rcptTo: readonly string[] };
  /** Header fields by lower-case name, each with every value in order of appearance (unfolded). */
  readonly headers: Readonly<Record<string, readonly string[]>>;
  readonly raw: Buffer;
  /** Epoch milliseconds. */
  readonly receivedAt: number;
  /** The message arrived over TLS (after STARTTLS). */
  readonly tls: boolean;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f-\x9f]/;

/** Decodes RFC 2047 encoded words (`=?UTF-8?Q?Caf=C3=A9?=`), as mail clients send non-ASCII header text. */
function decodeWords(value: string): string {
  if (!value.includes('=?')) return value; // most header values hold no encoded word
  return value
    .replace(/(=\?[^?\s]+\?[BbQq]\?[^?\s]*\?=)\s+(?==\?)/g, '$1') // whitespace between encoded words is not text
    .replace(/=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=/g, (word, charset: string, encoding: string, text: string) => {
      try {
        const bytes = encoding.toUpperCase() === 'B'
          ? Buffer.from(text, 'base64')
          : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1');
        return new TextDecoder(charset.split('*')[0]!.toLowerCase()).decode(bytes);
      } catch {
        return word; // an unknown charset: leave the word as it came
      }
    });
}

/** The header fields of a raw message (only its header block is decoded, however large the body). */
export function parseHeaders(raw: Buffer): Record<string, string[]> {
  const end = raw.indexOf('\r\n\r\n');
  const block = raw.toString('utf8', 0, end === -1 ? raw.length : end).replace(/\r?\n[ \t]+/g, ' ');
  const headers: Record<string, string[]> = Object.create(null) as Record<string, string[]>;
  for (const line of block.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    (headers[name] ??= []).push(decodeWords(line.slice(colon + 1).trim()));
  }
  return { ...headers };
}

/** Reads tags as `source` says: from a MAIL FROM address, and from a message's header fields. */
export class TagReader {
  readonly #header: string | undefined;
  readonly #fromExtension: boolean;

  constructor(source: TagSource = {}) {
    this.#header = source.header === undefined ? 'x-campaign' : source.header === false ? undefined : source.header.toLowerCase();
    this.#fromExtension = source.fromAddressExtension ?? true;
  }

  /** The tag of the MAIL FROM address extension (`bounces+Campaign1@...`), known from MAIL on. */
  envelope(mailFrom: string | undefined): string[] {
    if (!this.#fromExtension || mailFrom === undefined) return [];
    const local = mailFrom.slice(0, mailFrom.lastIndexOf('@'));
    const plus = local.indexOf('+');
    return plus === -1 || plus === local.length - 1 ? [] : [local.slice(plus + 1)];
  }

  /** The tags of the tag header (comma separated), known only once the message arrived. */
  header(headers: Readonly<Record<string, readonly string[]>>): string[] {
    const tags: string[] = [];
    for (const value of this.#header === undefined ? [] : headers[this.#header] ?? []) {
      // A header is the sender's text: a tag the engine would refuse (control characters) is skipped.
      for (const raw of value.split(',')) {
        const tag = raw.trim();
        if (tag !== '' && !CONTROL.test(tag) && !tags.includes(tag)) tags.push(tag);
      }
    }
    return tags;
  }
}

/** The frozen record of an accepted message. */
export function acceptedMessage(session: string, mailFrom: string, rcptTo: readonly string[], headers: Record<string, string[]>, raw: Buffer, tls: boolean): AcceptedMessage {
  return Object.freeze({
    session,
    envelope: Object.freeze({ mailFrom, rcptTo: Object.freeze([...rcptTo]) }),
    headers: Object.freeze(headers),
    raw,
    receivedAt: Date.now(),
    tls,
  });
}
