/**
 * `smtp-intercept/smtp-server`: callbacks for an `smtp-server` you run yourself, applying an
 * interceptor's rules at each SMTP phase. (The fake MX, `createFakeMx`, runs on the library's own SMTP
 * engine and lives in `smtp-intercept/testing`; it is re-exported here for existing imports.)
 */
import type { Readable } from 'node:stream';
import type { Attempt, Interceptor } from '../index.js';
import { acceptedMessage, type AcceptedMessage, parseHeaders, TagReader, type TagSource } from './message.js';
import { answer, type Callback } from './smtp-reply.js';
import { messageVerdict } from './verdict.js';

export type { AcceptedMessage, TagSource } from './message.js';
/** @deprecated Import `createFakeMx` from `smtp-intercept/testing`; it no longer needs `smtp-server`. */
export { createFakeMx } from '../testing/fake-mx.js';
export type { FakeMx, FakeMxOptions } from '../testing/fake-mx.js';

/** The parts of an smtp-server session the adapter reads. */
export interface SessionLike {
  id: string;
  remoteAddress: string;
  localAddress: string;
  envelope: { mailFrom: { address: string } | false; rcptTo: { address: string }[] };
  /**
   * Whether the connection is TLS: smtp-server sets it on every session, `true` from the start with
   * implicit TLS (`secure: true`) and from the end of the STARTTLS handshake on. The attempts' `tls`.
   */
  secure?: boolean;
}

/** Options of {@link interceptServerOptions}. */
export interface InterceptServerOptions {
  tags?: TagSource;
  /** Called with every message accepted at DATA (envelope, parsed headers, raw bytes). */
  onMessage?: (message: AcceptedMessage) => void;
}

/** smtp-server's callbacks applying an interceptor's rules. Spread them into `new SMTPServer({...})`. */
export interface InterceptCallbacks {
  onConnect(session: SessionLike, callback: Callback): void;
  onMailFrom(address: { address: string }, session: SessionLike, callback: Callback): void;
  onRcptTo(address: { address: string }, session: SessionLike, callback: Callback): void;
  onData(stream: Readable, session: SessionLike, callback: Callback): void;
}

/**
 * smtp-server callbacks that apply `interceptor`'s rules at each phase: `mta` is the client's address,
 * `ip` the server's, `recipient`/`domain` come from RCPT TO, tags from the MAIL FROM address extension
 * and (at DATA) a header; rules apply when docs/rules.md "When a rule applies" says. Every attempt
 * carries `tls` (evidence only) from smtp-server's `session.secure`.
 *
 * smtp-server cannot say everything a rule can; `createFakeMx` (smtp-intercept/testing) can. Here a
 * forced 4xx/5xx is replied exactly (smtp-server closes after a 421), but a forced 2xx at MAIL or RCPT
 * goes out as smtp-server's fixed `250 Accepted`; a multi-line description becomes one line; a `554`
 * greeting closes the connection instead of answering `503` until QUIT; every greeting waits smtp-server's
 * fixed 100 ms early-talker delay; smtp-server does not refuse a message over `size` that came without
 * `SIZE=`. A fault rule cannot be performed (smtp-server gives no hold of the socket): it is answered
 * `421 4.3.0` naming the fault, with a process warning.
 *
 * @example
 * ```ts
 * const server = new SMTPServer({ authOptional: true, disabledCommands: ['STARTTLS'], ...interceptServerOptions(ic) })
 * ```
 */
export function interceptServerOptions(interceptor: Interceptor, options: InterceptServerOptions = {}): InterceptCallbacks {
  const { onMessage } = options;
  const tags = new TagReader(options.tags);
  const mailFrom = (session: SessionLike) => (session.envelope.mailFrom ? session.envelope.mailFrom.address : undefined);
  // The rule inputs every phase shares; `tls` only where the session says (never invented).
  const base = (session: SessionLike): Attempt => ({ mta: session.remoteAddress, ip: session.localAddress, ...(typeof session.secure === 'boolean' ? { tls: session.secure } : {}) });
  const check = (attempt: Attempt, callback: Callback) => {
    let result;
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
      check({ ...base(session), phase: 'connect' }, callback);
    },
    onMailFrom(address, session, callback) {
      // The session's envelope is filled in only after this callback accepts, so read the address here.
      check({ ...base(session), tags: tags.envelope(address.address), phase: 'mail' }, callback);
    },
    onRcptTo(address, session, callback) {
      check({ ...base(session), tags: tags.envelope(mailFrom(session)), recipient: address.address, phase: 'rcpt' }, callback);
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
        const from = mailFrom(session) ?? '';
        const rcptTo = session.envelope.rcptTo.map((r) => r.address);
        let verdict;
        try {
          verdict = messageVerdict(interceptor, base(session), rcptTo, tags.envelope(from), tags.header(headers));
        } catch (err) {
          // Never let a bad attempt escape this listener: it would crash the process.
          return callback(Object.assign(new Error(`5.6.0 ${(err as Error).message.replace(/[\r\n]/g, ' ')}`), { responseCode: 554 }));
        }
        if (verdict === undefined || verdict.outcome === 'accepted') onMessage?.(acceptedMessage(session.id, from, rcptTo, headers, raw, session.secure === true));
        answer(verdict, callback, true);
      });
    },
  };
}
