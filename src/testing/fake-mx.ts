/**
 * A fake receiving MX for test suites, on the library's own SMTP engine: each SMTP step is checked
 * against an interceptor's rules and a forced result is replied exactly, at its phase, after its delay;
 * everything else is accepted and the messages are kept for assertions.
 */
import type { AddressInfo } from 'node:net';
import { keepsMessage, messageVerdict } from '../adapters/verdict.js';
import { acceptedMessage, type AcceptedMessage, parseHeaders, TagReader, type TagSource } from '../adapters/message.js';
import { forcedAction, refusal, replyOf, tlsRefusal } from '../adapters/forced-reply.js';
import { type Attempt, type ForcedResult, type Interceptor, ValidationError } from '../index.js';
import { CutRules, cutAtData } from './data-cut.js';
import type { Action, SessionInfo, SmtpHandler } from '../smtp/handler.js';
import { SmtpServer } from '../smtp/server.js';
import { MESSAGE_STORE_DEFAULTS, MessageStore } from './message-store.js';
import { TEST_CERTIFICATE, TEST_KEY } from './test-certificate.js';

export type { AcceptedMessage, TagSource } from '../adapters/message.js';

/** Options of {@link createFakeMx}. */
export interface FakeMxOptions {
  interceptor: Interceptor;
  /** @default '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. @default 0 */
  port?: number;
  /** Largest message in octets: announced as `SIZE`, larger ones refused with `552 5.3.4` and not kept. @default 10 MiB */
  size?: number;
  /** Most accepted messages kept in `messages`; the oldest goes first. @default 1000 */
  maxMessages?: number;
  /**
   * Most raw bytes kept over all accepted messages; the oldest go first. At least `size`.
   * @default 104857600 (100 MiB)
   */
  maxStoredBytes?: number;
  /** Where campaign tags come from. @default { header: 'X-Campaign', fromAddressExtension: true } */
  tags?: TagSource;
  /**
   * The host name this MX plays (`mx.example.com`): said in the greeting and EHLO, and given to rules as
   * the attempt's `mx`, so `mx: '*.google.com'` rules apply when it is `aspmx.l.google.com`. Without it
   * the greeting names the machine and attempts carry no `mx`. @default os.hostname()
   */
  hostname?: string;
  /**
   * Offer STARTTLS (RFC 3207): `true` with the bundled test certificate (`TEST_CERTIFICATE`, for
   * `localhost`), or your own PEM `key` and `cert`. Without it STARTTLS is not offered, so a client's
   * opportunistic TLS never meets a certificate it does not trust. @default undefined
   */
  tls?: true | { key: string | Buffer; cert: string | Buffer };
  /** Called with every message accepted at DATA (envelope, parsed headers, raw bytes). */
  onMessage?: (message: AcceptedMessage) => void;
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
  /** Stops listening; open sessions get `421 4.3.2` and are dropped after at most one second. */
  close(): Promise<void>;
}

/** The STARTTLS answer a tls fault forces: `refuse` is 454 4.7.0 (with the rule's text), `fail` aborts the handshake. */
function starttlsAction(result: ForcedResult | undefined): Action | undefined {
  const fault = tlsOf(result);
  if (fault === 'fail') return { kind: 'tls-fail' };
  return fault === 'refuse' ? { kind: 'reply', reply: replyOf(tlsRefusal(result!)) } : undefined;
}

const tlsOf = (result: ForcedResult | undefined) => (result?.fault?.kind === 'tls' ? result.fault.tls : undefined);

/** @internal The fake MX's handler; `stop` stops it following the interceptor's rule events. */
export interface FakeMxHandler extends SmtpHandler {
  stop(): void;
}

/** @internal The engine handler applying `interceptor`'s rules; `store` receives accepted messages. */
export function fakeMxHandler(interceptor: Interceptor, tags: TagSource | undefined, store: (message: AcceptedMessage) => void, hostname?: string): FakeMxHandler {
  const reader = new TagReader(tags);
  // The attempt's envelope side: the null reverse-path is the engine's '' and the rules' `<>`.
  const mx = hostname === undefined ? {} : { mx: hostname };
  const sender = (address: string | undefined) => (address === undefined ? undefined : address === '' ? '<>' : address);
  const bodies = new WeakMap<SessionInfo, Buffer[]>(); // the message being read, per session
  const decidedAtData = new WeakMap<SessionInfo, Map<string, ForcedResult | undefined>>(); // see cutAtData
  const tlsFaults = new WeakMap<SessionInfo, ForcedResult>(); // decided with the greeting, acted on at EHLO/STARTTLS
  const cutRules = new CutRules(interceptor);
  const check = (attempt: Attempt): Action | undefined => {
    try {
      return forcedAction(interceptor.check(attempt));
    } catch (err) {
      return refusal(501, '5.1.3', err); // an attempt the engine refuses (e.g. an unparsable address)
    }
  };
  return {
    connect: (s) => {
      const result = interceptor.check({ mta: s.remoteAddress, ip: s.localAddress, ...mx, phase: 'connect', tls: false });
      if (result?.fault?.kind === 'tls') tlsFaults.set(s, result);
      return forcedAction(result);
    },
    offerTls: (s) => tlsOf(tlsFaults.get(s)) !== 'unavailable',
    starttls: (s) => starttlsAction(tlsFaults.get(s)),
    mail: (s, from) => check({ mta: s.remoteAddress, ip: s.localAddress, sender: sender(from.address), ...mx, tags: reader.envelope(from.address), phase: 'mail', tls: s.secure }),
    rcpt: (s, to) => check({ mta: s.remoteAddress, ip: s.localAddress, sender: sender(s.mailFrom?.address), ...mx, tags: reader.envelope(s.mailFrom?.address), recipient: to.address, phase: 'rcpt', tls: s.secure }),
    data: (s) => {
      if (!cutRules.any) {
        bodies.set(s, []);
        return undefined;
      }
      const decided = new Map<string, ForcedResult | undefined>();
      const base = { mta: s.remoteAddress, ip: s.localAddress, sender: sender(s.mailFrom?.address), ...mx, tags: reader.envelope(s.mailFrom?.address), tls: s.secure };
      const cut = cutAtData(interceptor, base, s.rcptTo, decided);
      if (cut !== undefined) return cut;
      bodies.set(s, []);
      if (decided.size > 0) decidedAtData.set(s, decided);
      return undefined;
    },
    chunk: (s, chunk) => { bodies.get(s)?.push(chunk); },
    message: (s, size) => {
      const raw = Buffer.concat(bodies.get(s) ?? [], size);
      bodies.delete(s);
      const decided = decidedAtData.get(s);
      decidedAtData.delete(s);
      const headers = parseHeaders(raw);
      const mailFrom = s.mailFrom?.address ?? '';
      let verdict;
      try {
        verdict = messageVerdict(interceptor, { mta: s.remoteAddress, ip: s.localAddress, sender: sender(mailFrom), ...mx, tls: s.secure }, s.rcptTo, reader.envelope(mailFrom), reader.header(headers), decided);
      } catch (err) {
        return refusal(554, '5.6.0', err);
      }
      if (keepsMessage(verdict)) store(acceptedMessage(s.id, mailFrom, s.rcptTo, headers, raw, s.secure));
      return forcedAction(verdict);
    },
    close: (s) => {
      bodies.delete(s);
      decidedAtData.delete(s);
    },
    stop: () => { cutRules.stop(); },
  };
}

/**
 * Starts a real SMTP server (no TLS, no authentication) on the library's engine that applies
 * `interceptor`'s rules and keeps the messages it accepts.
 *
 * @example
 * ```ts
 * const mx = await createFakeMx({ interceptor: ic })
 * const transport = nodemailer.createTransport({ host: mx.host, port: mx.port, secure: false, ignoreTLS: true })
 * ```
 */
export async function createFakeMx(options: FakeMxOptions): Promise<FakeMx> {
  const { interceptor, host = '127.0.0.1', port = 0, size = 10 * 1024 * 1024, tags, onMessage, hostname, tls } = options;
  const { maxMessages, maxStoredBytes = Math.max(size, MESSAGE_STORE_DEFAULTS.maxBytes) } = options;
  if (maxStoredBytes < size) {
    // Otherwise a message the server accepts could not be kept.
    throw new ValidationError([{ code: 'invalid_option', message: `maxStoredBytes (${maxStoredBytes}) must be at least size (${size})`, param: 'maxStoredBytes' }]);
  }
  const store = new MessageStore<AcceptedMessage>({ maxBytes: maxStoredBytes, ...(maxMessages === undefined ? {} : { maxMessages }) });
  const handler = fakeMxHandler(interceptor, tags, (message) => {
    store.add(message);
    onMessage?.(message);
  }, hostname);
  let server: SmtpServer;
  let address: AddressInfo;
  try {
    server = new SmtpServer({
      handler,
      size,
      ...(hostname === undefined ? {} : { hostname }),
      ...(tls === undefined ? {} : { tls: tls === true ? { key: TEST_KEY, cert: TEST_CERTIFICATE } : tls }),
      // The client already got `451 4.3.0` (say a rule text the reply writer refuses, or an onMessage that
      // threw): the warning says why, without ending the test process.
      onError: (err) => process.emitWarning(err instanceof Error ? err : String(err), 'SmtpInterceptWarning'),
    });
    address = await server.listen(port, host);
  } catch (err) {
    handler.stop(); // a server that never ran must not keep following the interceptor
    throw err;
  }
  return {
    host,
    port: address.port,
    get messages() { return store.values(); },
    store,
    clear: () => { store.clear(); },
    close: async () => {
      handler.stop();
      await server.close();
    },
  };
}
