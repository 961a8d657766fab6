/**
 * @internal What the engine asks the code that runs it: at each step of a session, an *action*: a reply
 * (the engine's default when omitted) after an optional delay, or a socket fault (close, reset, hang),
 * which the session performs with its `FaultActions` (`fault-actions.ts`).
 */
import type { PathCommand, State } from './protocol.js';
import type { Reply } from './reply.js';

/** Give `reply` (or, when omitted, the engine's own reply for this step) after `delay` milliseconds. */
export interface ReplyAction {
  readonly kind: 'reply';
  readonly reply?: Reply | undefined;
  readonly delay?: number | undefined;
  /** From this reply on, write replies at most this many octets per second (a slow link). */
  readonly bytesPerSecond?: number | undefined;
}

/**
 * Close the connection without a reply (`close`: FIN; `reset`: TCP RST) after `delay` ms. Given at
 * DATA with `afterBytes`, the session answers 354 and cuts after that many message octets instead.
 */
export interface DropAction {
  readonly kind: 'close' | 'reset';
  readonly delay?: number | undefined;
  readonly afterBytes?: number | undefined;
}

/** Never answer; close after `closeAfter` ms when set (else the idle timeout or the client ends it). */
export interface HangAction {
  readonly kind: 'hang';
  readonly closeAfter?: number | undefined;
}

/** At STARTTLS: say 220, then abort the TLS handshake (close on the client's first handshake bytes). */
export interface TlsFailAction {
  readonly kind: 'tls-fail';
}

/** What a session does at a step. */
export type Action = ReplyAction | DropAction | HangAction | TlsFailAction;

/** A handler's answer: an action, `undefined` for the engine's default, or a promise of either. */
export type Decision = Action | undefined | PromiseLike<Action | undefined>;

/** Whether a handler answered with a promise (any thenable): then the session waits for it. */
export const isThenable = <T>(value: unknown): value is PromiseLike<T> => typeof (value as PromiseLike<T> | undefined)?.then === 'function';

/** What a handler can read of a session. */
export interface SessionInfo {
  /** Unique within the server. */
  readonly id: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly state: State;
  /** The EHLO/HELO argument, once given. */
  readonly helo: string | undefined;
  /** The accepted MAIL FROM of the open transaction. */
  readonly mailFrom: PathCommand | undefined;
  /** Accepted RCPT TO addresses of the open transaction, in order. */
  readonly rcptTo: readonly string[];
  /** The connection was upgraded by STARTTLS. */
  readonly secure: boolean;
}

/**
 * The steps a handler may decide. A reply's code decides what follows, as RFC 5321 says: a 2xx at MAIL
 * or RCPT accepts, a 354 at DATA starts the message, a `421` at any step closes the connection (§3.8),
 * and any other greeting than 2xx leaves the session answering `503` until QUIT (§3.1).
 */
export interface SmtpHandler {
  /** The greeting. Default `220 <hostname> ESMTP`. */
  connect?(session: SessionInfo): Decision;
  /** A well-formed MAIL FROM within the size limit. Default `250 2.1.0`. */
  mail?(session: SessionInfo, from: PathCommand): Decision;
  /** A well-formed RCPT TO within the recipient limit. Default `250 2.1.5`. */
  rcpt?(session: SessionInfo, to: PathCommand): Decision;
  /** The DATA command. Default `354`. */
  data?(session: SessionInfo): Decision;
  /**
   * Message bytes, dot-unstuffed, in order, at most the size limit in all. A returned promise holds the
   * connection (nothing more is read) until it settles.
   */
  chunk?(session: SessionInfo, chunk: Buffer): void | PromiseLike<void>;
  /** The end of a message within the size limit (`size` octets). Default `250 2.0.0`. */
  message?(session: SessionInfo, size: number): Decision;
  /** Whether the EHLO reply offers STARTTLS (only when the server has a certificate). Default true. */
  offerTls?(session: SessionInfo): boolean;
  /** STARTTLS (RFC 3207). Default `220 2.0.0` and the handshake; a `454` refuses, `tls-fail` aborts it. */
  starttls?(session: SessionInfo): Decision;
  /** The connection is gone; a message still being read is abandoned. */
  close?(session: SessionInfo): void;
}
