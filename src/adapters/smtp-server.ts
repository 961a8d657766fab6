/**
 * `smtp-intercept/smtp-server`: a fake receiving MX on `smtp-server`. Rules are applied at their SMTP
 * phase with the exact code, enhanced code and text; everything else is accepted and kept for
 * assertions. `smtp-server` is an optional peer dependency.
 */
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { SMTPServer } from 'smtp-server';
import { type Attempt, type ForcedResult, type Interceptor, ValidationError } from '../index.js';
import { MESSAGE_STORE_DEFAULTS, MessageStore } from '../testing/message-store.js';
import { answer, type Callback } from './smtp-reply.js';

/** The parts of an smtp-server session the adapter reads. */
export interface SessionLike {
  id: string;
  remoteAddress: string;
  localAddress: string;
  envelope: { mailFrom: { address: string } | false; rcptTo: { address: string }[] };
}

/** How the fake MX finds an attempt's campaign tags. */
export interface TagSource {
  /**
   * Header carrying tags (comma separated), read at the `data` phase only (headers arrive with DATA).
   * @default 'X-Campaign'
   */
  header?: string | false;
  /**
   * Take the tag from the MAIL FROM address extension, `bounces+Campaign1@example.com` -> `Campaign1`,
   * available from the `mail` phase on. @default true
   */
  fromAddressExtension?: boolean;
}

/** Options of {@link interceptServerOptions}. */
export interface InterceptServerOptions {
  tags?: TagSource;
  /** Called with every message accepted at DATA (envelope, parsed headers, raw bytes). */
  onMessage?: (message: AcceptedMessage) => void;
}

/** A message the fake MX accepted. */
export interface AcceptedMessage {
  /** smtp-server's session id. */
  readonly session: string;
  readonly envelope: { readonly mailFrom: string; readonly rcptTo: readonly string[] };
  /** Header fields by lower-case name, each with every value in order of appearance (unfolded). */
  readonly headers: Readonly<Record<string, readonly string[]>>;
  readonly raw: Buffer;
  /** Epoch milliseconds. */
  readonly receivedAt: number;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f-\x9f]/;

/** smtp-server's callbacks applying an interceptor's rules. Spread them into `new SMTPServer({...})`. */
export interface InterceptCallbacks {
  onConnect(session: SessionLike, callback: Callback): void;
  onMailFrom(address: { address: string }, session: SessionLike, callback: Callback): void;
  onRcptTo(address: { address: string }, session: SessionLike, callback: Callback): void;
  onData(stream: Readable, session: SessionLike, callback: Callback): void;
}

/** Decodes RFC 2047 encoded words (`=?UTF-8?Q?Caf=C3=A9?=`), as mail clients send non-ASCII header text. */
function decodeWords(value: string): string {
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

function parseHeaders(raw: Buffer): Record<string, string[]> {
  const text = raw.toString('utf8');
  const end = text.search(/\r?\n\r?\n/);
  const block = (end === -1 ? text : text.slice(0, end)).replace(/\r?\n[ \t]+/g, ' ');
  const headers: Record<string, string[]> = Object.create(null) as Record<string, string[]>;
  for (const line of block.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    (headers[name] ??= []).push(decodeWords(line.slice(colon + 1).trim()));
  }
  return { ...headers };
}

/**
 * smtp-server callbacks that apply `interceptor`'s rules at each phase: `mta` is the client's address,
 * `ip` the server's, `recipient`/`domain` come from RCPT TO, tags from the MAIL FROM address extension
 * and (at DATA) a header. A forced 4xx/5xx is replied exactly; smtp-server closes the connection after a
 * 421; a forced 2xx, and every attempt no rule forces, is accepted.
 *
 * @example
 * ```ts
 * const server = new SMTPServer({ authOptional: true, disabledCommands: ['STARTTLS'], ...interceptServerOptions(ic) })
 * ```
 */
export function interceptServerOptions(interceptor: Interceptor, options: InterceptServerOptions = {}): InterceptCallbacks {
  const { tags: tagSource = {}, onMessage } = options;
  const header = tagSource.header === undefined ? 'x-campaign' : tagSource.header === false ? undefined : tagSource.header.toLowerCase();
  const fromExtension = tagSource.fromAddressExtension ?? true;

  const envelopeTags = (session: SessionLike): string[] => {
    const from = session.envelope.mailFrom;
    if (!fromExtension || !from) return [];
    const local = from.address.slice(0, from.address.lastIndexOf('@'));
    const plus = local.indexOf('+');
    return plus === -1 || plus === local.length - 1 ? [] : [local.slice(plus + 1)];
  };
  const base = (session: SessionLike, phase: Attempt['phase'], extra: Partial<Attempt> = {}): Attempt => ({
    mta: session.remoteAddress, ip: session.localAddress, tags: envelopeTags(session), phase, ...extra,
  });
  const check = (attempt: Attempt, callback: Callback) => {
    let result: ForcedResult | undefined;
    try {
      result = interceptor.check(attempt);
    } catch (err) {
      // A malformed attempt (e.g. an address the engine cannot parse) is refused like a bad command.
      return callback(Object.assign(new Error(`5.1.3 ${(err as Error).message.replace(/[\r\n]/g, ' ')}`), { responseCode: 501 }));
    }
    answer(result, callback);
  };

  return {
    onConnect(session, callback) {
      check({ mta: session.remoteAddress, ip: session.localAddress, phase: 'connect' }, callback);
    },
    onMailFrom(_address, session, callback) {
      // The session's envelope is filled in only after this callback accepts, so read the address here.
      const probe = { ...session, envelope: { ...session.envelope, mailFrom: _address } };
      check(base(probe, 'mail'), callback);
    },
    onRcptTo(address, session, callback) {
      check(base(session, 'rcpt', { recipient: address.address }), callback);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      // smtp-server only flags a message over its `size`: stop collecting it, refuse it, keep nothing.
      const oversized = () => (stream as Readable & { sizeExceeded?: boolean }).sizeExceeded === true;
      stream.on('data', (chunk: Buffer) => { if (!oversized()) chunks.push(chunk); });
      stream.on('error', (err: Error) => callback(err));
      stream.on('end', () => {
        if (oversized()) return callback(Object.assign(new Error('5.3.4 Message size exceeds fixed maximum message size'), { responseCode: 552 }));
        const raw = Buffer.concat(chunks);
        const headers = parseHeaders(raw);
        const tags = envelopeTags(session);
        for (const value of header === undefined ? [] : headers[header] ?? []) {
          // A header is the sender's text: a tag the engine would refuse (control characters) is skipped.
          for (const tag of value.split(',')) if (tag.trim() !== '' && !CONTROL.test(tag.trim())) tags.push(tag.trim());
        }
        // One reply ends the transaction: the first recipient a data-phase rule forces decides it.
        let forced: ForcedResult | undefined;
        try {
          for (const rcpt of session.envelope.rcptTo) {
            const result = interceptor.check({ mta: session.remoteAddress, ip: session.localAddress, recipient: rcpt.address, tags, phase: 'data' });
            if (result && result.outcome !== 'accepted') { forced = result; break; }
            forced ??= result;
          }
        } catch (err) {
          // Never let a bad attempt escape this listener: it would crash the process.
          return callback(Object.assign(new Error(`5.6.0 ${(err as Error).message.replace(/[\r\n]/g, ' ')}`), { responseCode: 554 }));
        }
        if (forced === undefined || forced.outcome === 'accepted') {
          onMessage?.(Object.freeze({
            session: session.id,
            envelope: Object.freeze({ mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', rcptTo: Object.freeze(session.envelope.rcptTo.map((r) => r.address)) }),
            headers: Object.freeze(headers),
            raw,
            receivedAt: Date.now(),
          }));
        }
        answer(forced, callback, true);
      });
    },
  };
}

/** Options of {@link createFakeMx}. */
export interface FakeMxOptions extends InterceptServerOptions {
  interceptor: Interceptor;
  /** @default '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. @default 0 */
  port?: number;
  /** Largest message accepted; a larger one is refused with `552 5.3.4` and not kept. @default 10 MiB */
  size?: number;
  /** Most accepted messages kept in `messages`; the oldest goes first. @default 1000 */
  maxMessages?: number;
  /**
   * Most raw bytes kept over all accepted messages; the oldest go first. At least `size`.
   * @default 104857600 (100 MiB)
   */
  maxStoredBytes?: number;
}

/** A running fake MX. */
export interface FakeMx {
  readonly host: string;
  readonly port: number;
  /** Accepted messages still kept (within `maxMessages` and `maxStoredBytes`), oldest first. */
  readonly messages: readonly AcceptedMessage[];
  /** The kept messages with their ids, for lookups and pagination. */
  readonly store: MessageStore<AcceptedMessage>;
  /** Forgets the accepted messages. */
  clear(): void;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

/**
 * Starts a real SMTP server (no TLS, no authentication) that applies `interceptor`'s rules and keeps
 * the messages it accepts.
 *
 * @example
 * ```ts
 * const mx = await createFakeMx({ interceptor: ic })
 * const transport = nodemailer.createTransport({ host: mx.host, port: mx.port, secure: false, ignoreTLS: true })
 * ```
 */
export async function createFakeMx(options: FakeMxOptions): Promise<FakeMx> {
  const { interceptor, host = '127.0.0.1', port = 0, size = 10 * 1024 * 1024, tags, onMessage } = options;
  const { maxMessages, maxStoredBytes = Math.max(size, MESSAGE_STORE_DEFAULTS.maxBytes) } = options;
  if (maxStoredBytes < size) {
    // Otherwise a message the server accepts could not be kept.
    throw new ValidationError([{ code: 'invalid_option', message: `maxStoredBytes (${maxStoredBytes}) must be at least size (${size})`, param: 'maxStoredBytes' }]);
  }
  const store = new MessageStore<AcceptedMessage>({ maxBytes: maxStoredBytes, ...(maxMessages === undefined ? {} : { maxMessages }) });
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    size,
    logger: false,
    // A test server: no reverse DNS lookups of clients, and close() does not wait the default 30 s for
    // connections a client keeps open (they get "421 Server shutting down" after one second).
    disableReverseLookup: true,
    closeTimeout: 1000,
    ...interceptServerOptions(interceptor, {
      ...(tags === undefined ? {} : { tags }),
      onMessage: (message) => {
        store.add(message);
        onMessage?.(message);
      },
    }),
  } as ConstructorParameters<typeof SMTPServer>[0]);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', () => undefined); // client errors are the client's business
  const address = (server as unknown as { server: { address(): AddressInfo } }).server.address();
  return {
    host,
    port: address.port,
    get messages() { return store.values(); },
    store,
    clear: () => { store.clear(); },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
