/**
 * @internal The RFC 5321 server state machine as tables: the session states, which commands each state
 * accepts, and the engine's own replies with the section that prescribes each. Check them against the
 * RFC here; `session.ts` only follows them.
 */
import type { Reply } from './reply.js';

/**
 * Where a session is (RFC 5321 §4.1.4 command order, §3.3 mail transaction).
 * - `greeting`: connected, the 220 not yet sent (commands are held, not read)
 * - `refused`: a 554 greeting went out; only QUIT is served (§3.1)
 * - `fresh`: greeted, no EHLO/HELO yet
 * - `ready`: after EHLO/HELO, no transaction
 * - `mail`: MAIL accepted, no recipient yet
 * - `rcpt`: at least one RCPT accepted
 * - `data`: reading the message after the 354
 */
export type State = 'greeting' | 'refused' | 'fresh' | 'ready' | 'mail' | 'rcpt' | 'data';

/** The commands the engine implements. */
export type Verb = 'EHLO' | 'HELO' | 'MAIL' | 'RCPT' | 'DATA' | 'RSET' | 'NOOP' | 'QUIT' | 'VRFY' | 'HELP' | 'STARTTLS';

const GREETED: readonly State[] = ['fresh', 'ready', 'mail', 'rcpt'];

/** The states in which each command is in sequence; anywhere else it gets `503 5.5.1` (§4.1.4, §3.1). */
export const ACCEPTS: Readonly<Record<Verb, ReadonlySet<State>>> = {
  EHLO: new Set(GREETED), // §4.1.4: may come again; it resets the transaction like RSET
  HELO: new Set(GREETED),
  MAIL: new Set(['ready']), // §4.1.4: after EHLO/HELO, and not inside a transaction
  RCPT: new Set(['mail', 'rcpt']), // §3.3: after MAIL
  DATA: new Set(['rcpt']), // §3.3: after at least one accepted RCPT
  RSET: new Set(GREETED), // §4.1.1.5: any time
  NOOP: new Set(GREETED), // §4.1.1.9: any time
  QUIT: new Set(['refused', ...GREETED]), // §3.1: even after a 554 greeting
  VRFY: new Set(GREETED), // §3.5.3
  HELP: new Set(GREETED), // §4.1.1.8
  STARTTLS: new Set(['ready']), // RFC 3207 §4: after EHLO, outside a transaction
};

/** Recognised commands this engine does not implement: `502` rather than `500` (§4.2.4). */
export const NOT_IMPLEMENTED: ReadonlySet<string> = new Set(['EXPN', 'TURN', 'ETRN', 'ATRN', 'AUTH', 'BDAT', 'SEND', 'SOML', 'SAML']);

const r = (code: number, extended: string | undefined, text: string): Reply => Object.freeze({ code, extended, lines: Object.freeze([text]) });

/** The engine's replies when no handler chooses one. */
export const REPLIES = {
  // §4.2.2/§4.1.1.1: greeting and HELO carry no enhanced code (RFC 2034 §3: not before EHLO).
  closing: r(221, '2.0.0', 'Bye'), // §4.1.1.10 QUIT
  ok: r(250, '2.0.0', 'OK'), // §4.1.1.9 NOOP
  reset: r(250, '2.0.0', 'Reset'), // §4.1.1.5 RSET
  sender: r(250, '2.1.0', 'Sender OK'), // §4.1.1.2 MAIL (RFC 3463 X.1.0: other address status)
  recipient: r(250, '2.1.5', 'Recipient OK'), // §4.1.1.3 RCPT (X.1.5: destination address valid)
  queued: r(250, '2.0.0', 'Message accepted'), // §4.1.1.4 end of data
  startData: r(354, undefined, 'End data with <CR><LF>.<CR><LF>'), // §4.1.1.4, §4.2.1: 3yz has no enhanced code
  cannotVerify: r(252, '2.1.5', 'Cannot VRFY user, but will accept message and attempt delivery'), // §3.5.3
  help: r(214, '2.0.0', 'Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP'), // §4.1.1.8
  unrecognized: r(500, '5.5.1', 'Command unrecognized'), // §4.2.4
  lineTooLong: r(500, '5.5.2', 'Line too long'), // §4.5.3.1.4
  notImplemented: r(502, '5.5.1', 'Command not implemented'), // §4.2.4
  badSequence: r(503, '5.5.1', 'Bad sequence of commands'), // §4.1.4, §3.1 (after a 554 greeting)
  needHelo: r(503, '5.5.1', 'Send EHLO or HELO first'), // §4.1.4
  nestedMail: r(503, '5.5.1', 'Nested MAIL command'), // §4.1.4
  needMail: r(503, '5.5.1', 'Need MAIL before RCPT'), // §3.3
  needRcpt: r(503, '5.5.1', 'Need RCPT before DATA'), // §3.3
  noArguments: r(501, '5.5.4', 'No arguments allowed'), // §4.1.1.4/.5/.10
  needDomain: r(501, '5.5.4', 'EHLO and HELO need a domain'), // §4.1.1.1
  needArgument: r(501, '5.5.4', 'Argument required'), // §4.1.1.6
  badPath: r(501, '5.5.2', 'Syntax: MAIL FROM:<address> / RCPT TO:<address>'), // §4.1.2
  badParameter: r(501, '5.5.4', 'Invalid parameter value'), // RFC 1870 §6, RFC 6152 §2
  unknownParameter: r(555, '5.5.4', 'Parameter not recognized or not implemented'), // §4.1.1.11
  tooManyRecipients: r(452, '4.5.3', 'Too many recipients'), // §4.5.3.1.10, RFC 3463 X.5.3
  nonAscii: r(553, '5.6.7', 'Non-ASCII address requires SMTPUTF8'), // RFC 6531 §3.5
  tooBig: r(552, '5.3.4', 'Message size exceeds fixed maximum message size'), // RFC 1870 §6.2/§6.3
  timeout: r(421, '4.4.2', 'Idle timeout, closing connection'), // §4.5.3.2, §3.8
  shuttingDown: r(421, '4.3.2', 'Service shutting down, closing connection'), // §3.8
  localError: r(451, '4.3.0', 'Requested action aborted: local error in processing'), // §4.2.3
  readyTls: r(220, '2.0.0', 'Ready to start TLS'), // RFC 3207 §4
  tlsUnavailable: r(454, '4.7.0', 'TLS not available due to temporary reason'), // RFC 3207 §4
  alreadyTls: r(503, '5.5.1', 'TLS already active'), // RFC 3207 §4.2: no second STARTTLS
} as const;

/** A server's own replies that name it: the greeting (§4.2), the EHLO and HELO replies (§4.1.1.1). */
export interface ServerReplies {
  readonly greeting: Reply;
  /** Announces PIPELINING (RFC 2920), 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531), ENHANCEDSTATUSCODES (RFC 2034), SIZE (RFC 1870). */
  readonly ehlo: Reply;
  /** The EHLO reply with STARTTLS (RFC 3207 §4), for a server with a certificate on a plain connection. */
  readonly ehloTls: Reply;
  readonly helo: Reply;
}

/** The replies naming `hostname`, built once per server (they never echo the client's text). */
export function serverReplies(hostname: string, size: number): ServerReplies {
  const ehlo = [hostname, 'PIPELINING', '8BITMIME', 'SMTPUTF8', 'ENHANCEDSTATUSCODES', `SIZE ${size}`];
  return Object.freeze({
    greeting: r(220, undefined, `${hostname} ESMTP`),
    ehlo: Object.freeze({ code: 250, extended: undefined, lines: Object.freeze(ehlo) }),
    ehloTls: Object.freeze({ code: 250, extended: undefined, lines: Object.freeze([...ehlo, 'STARTTLS']) }),
    helo: r(250, undefined, hostname),
  });
}

/** A parsed MAIL FROM or RCPT TO: the address (empty for the null reverse-path `<>`) and parameters. */
export interface PathCommand {
  readonly address: string;
  /** ESMTP parameters by upper-case keyword; `true` for a keyword without a value. */
  readonly params: ReadonlyMap<string, string | true>;
}

/**
 * Parses `FROM:<address> params` / `TO:<address> params` (§4.1.2), tolerating a space after the colon
 * as most servers do. Undefined when it does not parse, or a parameter is repeated.
 */
export function parsePath(args: string, keyword: 'FROM' | 'TO'): PathCommand | undefined {
  const head = args.slice(0, keyword.length + 1).toUpperCase();
  if (head !== `${keyword}:`) return undefined;
  const rest = args.slice(keyword.length + 1).trimStart();
  if (rest[0] !== '<') return undefined;
  const close = rest.indexOf('>');
  if (close === -1) return undefined;
  let address = rest.slice(1, close);
  // §4.1.2: a source route (`@a,@b:user@c`) is accepted and ignored.
  if (address.startsWith('@')) address = address.slice(address.indexOf(':') + 1);
  if (/[\s<>]/.test(address) || (address === '' && keyword === 'TO')) return undefined;
  const params = new Map<string, string | true>();
  const tail = rest.slice(close + 1);
  if (tail !== '' && tail[0] !== ' ') return undefined;
  for (const part of tail.split(' ')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = (eq === -1 ? part : part.slice(0, eq)).toUpperCase();
    if (key === '' || params.has(key)) return undefined;
    params.set(key, eq === -1 ? true : part.slice(eq + 1));
  }
  return { address, params };
}

/** True when the text is all ASCII (RFC 6531: anything else needs SMTPUTF8). */
export function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** The 503 for a command outside the states of `ACCEPTS` (§4.1.4, §3.3, §3.1). */
export function outOfSequence(verb: Verb, state: State): Reply {
  if (state === 'refused') return REPLIES.badSequence;
  if (state === 'fresh' && verb !== 'RCPT' && verb !== 'DATA') return REPLIES.needHelo;
  if (verb === 'MAIL') return REPLIES.nestedMail;
  if (verb === 'RCPT') return REPLIES.needMail;
  if (verb === 'DATA') return state === 'mail' ? REPLIES.needRcpt : REPLIES.needMail;
  return REPLIES.badSequence;
}

/**
 * The MAIL FROM parameters the engine announces: whether the transaction is SMTPUTF8, or the reply
 * refusing a parameter (a `SIZE` over `size`, an unknown keyword).
 */
export function mailParameters(from: PathCommand, size: number): boolean | Reply {
  let utf8 = false;
  for (const [key, value] of from.params) {
    if (key === 'SIZE') { // RFC 1870 §6
      if (typeof value !== 'string' || !/^\d{1,20}$/.test(value)) return REPLIES.badParameter;
      if (Number(value) > size) return REPLIES.tooBig;
    } else if (key === 'BODY') { // RFC 6152 §2
      if (typeof value !== 'string' || !/^(7BIT|8BITMIME)$/i.test(value)) return REPLIES.badParameter;
    } else if (key === 'SMTPUTF8') { // RFC 6531 §3.4
      if (value !== true) return REPLIES.badParameter;
      utf8 = true;
    } else {
      return REPLIES.unknownParameter;
    }
  }
  return utf8;
}
