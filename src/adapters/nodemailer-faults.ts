/**
 * @internal A forced fault as nodemailer's SMTP transport reports the same fault from a real server.
 * The shapes were observed with nodemailer 10 against a loopback server doing each fault at each phase,
 * and are pinned by `test/adapters/nodemailer-faults.test.ts` and (tls) `nodemailer-tls.test.ts`,
 * which compare them with a real server field by field.
 */
import { constants } from 'node:os';
import type { ForcedFault, ForcedResult, TlsFault } from '../index.js';
import type { Phase } from '../rule-input.js';
import { REPLIES } from '../smtp/protocol.js';
import { tlsRefusal } from './forced-reply.js';

/** nodemailer's defaults (smtp-connection): greeting 30 s, socket inactivity 10 min. */
const GREETING_TIMEOUT = 30_000;
const SOCKET_TIMEOUT = 600_000;

/** The wrapped transport's options nodemailer's errors depend on (timeouts, the server's address, STARTTLS). */
export interface TransportOptions {
  readonly greetingTimeout?: unknown;
  readonly socketTimeout?: unknown;
  readonly host?: unknown;
  readonly port?: unknown;
  readonly secure?: unknown;
  readonly requireTLS?: unknown;
  readonly ignoreTLS?: unknown;
  readonly opportunisticTLS?: unknown;
}

const positive = (value: unknown, fallback: number): number =>
  typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback;

function withFields(message: string, fields: Record<string, unknown>): Error {
  return Object.assign(new Error(message), fields);
}

/** nodemailer reports a close, and a reset it noticed as a close, as ECONNECTION on CONN. */
const closed = (): Error => withFields('Connection closed unexpectedly', { code: 'ECONNECTION', command: 'CONN' });

/**
 * A reset read from the socket: node's `read ECONNRESET` wrapped by nodemailer as ESOCKET (a server
 * resetting the moment it reads the command; one that resets later, after nodemailer wrote more, may
 * be reported as a close).
 */
function reset(phase: Phase, options: TransportOptions): Error {
  const errno = -constants.errno.ECONNRESET;
  if (phase === 'connect') {
    // Reset before the greeting: node reports it on connect, with the server's address.
    const address = String(options.host ?? 'localhost');
    const port = Number(options.port ?? 587);
    return withFields(`connect ECONNRESET ${address}:${port}`, {
      errno, code: 'ESOCKET', syscall: 'connect', address, port, originalCode: 'ECONNRESET', command: 'CONN',
    });
  }
  return withFields('read ECONNRESET', { errno, code: 'ESOCKET', syscall: 'read', originalCode: 'ECONNRESET', command: 'CONN' });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The error for `result` (a disconnect, reset or hang) at `phase`, after as long as nodemailer would wait: a hang takes the
 * transport's greeting timeout (at connect) or socket timeout, or the rule's `delay` when the server
 * closes first (then nodemailer sees a close).
 */
export async function faultError(result: ForcedFault, phase: Phase, options: TransportOptions): Promise<Error> {
  const { fault, delay } = result;
  if (fault.kind === 'hang') {
    const timeout = phase === 'connect'
      ? positive(options.greetingTimeout, GREETING_TIMEOUT)
      : positive(options.socketTimeout, SOCKET_TIMEOUT);
    if (delay > 0 && delay < timeout) {
      await sleep(delay);
      return closed();
    }
    await sleep(timeout);
    return phase === 'connect'
      ? withFields('Greeting never received', { timeoutType: 'GREETING_TIMEOUT', code: 'ETIMEDOUT', command: 'CONN' })
      : withFields('Timeout', { timeoutType: 'SOCKET_TIMEOUT', code: 'ETIMEDOUT', command: 'CONN' });
  }
  if (delay > 0) await sleep(delay);
  return fault.kind === 'reset' ? reset(phase, options) : closed();
}

/** nodemailer's error for a STARTTLS the server answered `response` (smtp-connection `_actionSTARTTLS`). */
function starttlsFailed(code: number, response: string): Error {
  return withFields(`Error upgrading connection with STARTTLS: ${response}`, { code: 'ETLS', response, responseCode: code, command: 'STARTTLS' });
}

/**
 * What nodemailer does when the server plays tls fault `tls` of `result` at `connect`: the error it
 * reports, or `undefined` when it goes on in clear (the rest of the rules then apply as on the wire).
 * nodemailer 10 (smtp-connection `_actionEHLO`, `_actionSTARTTLS`):
 * - a `secure` connection, and `ignoreTLS` without `requireTLS`, never send STARTTLS;
 * - `requireTLS` sends STARTTLS even when not offered (the fake MX answers `502`), and wins over
 *   `ignoreTLS` and `opportunisticTLS`; otherwise STARTTLS is sent only when offered;
 * - a refused STARTTLS is `ETLS` with the reply, unless `opportunisticTLS` (then in clear);
 * - a handshake the server drops is `ESOCKET`, whatever the options.
 */
export function tlsError(tls: TlsFault, result: ForcedResult, options: TransportOptions): Error | undefined {
  const required = options.requireTLS === true;
  // nodemailer connects with TLS from the start when `secure`, or on port 465 when `secure` is unset.
  const implicit = options.secure === true || (options.secure === undefined && Number(options.port) === 465);
  if (implicit || (options.ignoreTLS === true && !required)) return undefined;
  switch (tls) {
    case 'unavailable': {
      if (!required) return undefined;
      const { code, extended, lines } = REPLIES.notImplemented;
      return starttlsFailed(code, `${code} ${extended} ${lines.join(' ')}`);
    }
    case 'refuse': {
      if (options.opportunisticTLS === true && !required) return undefined;
      const { code, extended, description } = tlsRefusal(result);
      return starttlsFailed(code, `${code} ${extended} ${description}`);
    }
    case 'fail':
      // Node's TLS client on a connection closed mid-handshake, as nodemailer wraps it.
      return withFields('Client network socket disconnected before secure TLS connection was established', {
        code: 'ESOCKET', host: String(options.host ?? 'localhost'), originalCode: 'ECONNRESET', command: 'CONN',
      });
  }
}
