/**
 * `smtp-intercept/nodemailer`: wraps any nodemailer transport so forced results are reported exactly as
 * nodemailer's SMTP transport reports the same reply from a real server (error messages, `code`,
 * `response`, `responseCode`, `permanent`, `command`, `recipient`, `info.accepted/rejected/
 * rejectedErrors`). Recipients no rule forces go through the wrapped transport; results are merged.
 * No runtime import of nodemailer: the adapter only calls the transport it is given.
 */
import { isIP } from 'node:net';
import type { Attempt, ForcedReply, ForcedResult, Interceptor } from '../index.js';
import { faultError, tlsError, type TransportOptions } from './nodemailer-faults.js';

/** The parts of a nodemailer `MailMessage` the adapter uses. */
export interface MailLike {
  data: Record<string, unknown>;
  message: {
    getEnvelope(): { from: string | false; to: string[] };
    setEnvelope(envelope: { from: string | false; to: string[] }): unknown;
    messageId(): string;
  };
}

/** A nodemailer transport: what `nodemailer.createTransport()` accepts as a transport object. */
export interface TransportLike {
  name?: string;
  version?: string;
  send(mail: MailLike, callback: (err: Error | null, info?: Record<string, unknown>) => void): void;
  verify?(callback?: (err: Error | null, success?: boolean) => void): unknown;
  close?(): void;
  isIdle?(): boolean;
  on?(event: string, listener: (...args: unknown[]) => void): unknown;
  [key: string]: unknown;
}

/** Options of {@link interceptTransport}. */
export interface InterceptTransportOptions {
  /**
   * Attempt fields (pool, mta, tags, ip, ...) for a message, e.g. from a header. Recipient and phase are
   * set by the adapter; `sender` defaults to the envelope's from (`<>` when empty) and `mx` to the
   * {@link InterceptTransportOptions.mx} option. Fields given here win.
   */
  attempt?: (mail: MailLike) => Partial<Attempt>;
  /**
   * The attempts' `mx`: the MX host name this transport delivers to. @default the wrapped transport's
   * `options.host` when it is a host name (not an IP address)
   */
  mx?: string;
}

/** An error as nodemailer's SMTP connection formats it for a server reply (see its `_formatError`). */
function smtpError(message: string, code: string, result: ForcedReply, command: string): Error & Record<string, unknown> {
  const err = new Error(`${message}: ${result.reply}`) as Error & Record<string, unknown>;
  err.code = code;
  err.response = result.reply;
  err.responseCode = result.code;
  err.permanent = result.code >= 500 && result.code !== 503;
  err.command = command;
  return err;
}

/**
 * The mail's envelope, read once for the adapter and the wrapped transport. nodemailer's `getEnvelope`
 * parses every address header on each call unless an envelope was set (measured: 15-45 µs for two
 * recipients, most of the adapter's former cost); the wrapped transport reads it again. Keeping the
 * parsed envelope where nodemailer's own `setEnvelope` keeps it (`_envelope`, `false` until set, in
 * nodemailer 6 to 10) makes that second read free and changes nothing else; with any other message
 * object the field is left alone.
 */
function readEnvelope(message: MailLike['message']): { from: string | false; to: string[] } {
  const envelope = message.getEnvelope();
  const node = message as unknown as { _envelope?: unknown };
  if (node._envelope === false) node._envelope = envelope;
  return envelope;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

type Envelope = { from: string | false; to: string[] };

/** The fields of a mail's attempts: the mapper's, with the envelope sender and the transport's MX host. */
interface Base { readonly given: Partial<Attempt> | undefined; readonly sender: string | undefined; readonly mx: string | undefined }

// One object layout for every attempt this adapter builds keeps the engine's property reads monomorphic.
const attemptOf = ({ given, sender, mx }: Base, phase: Attempt['phase'], recipient: string | undefined): Attempt => ({
  pool: given?.pool, mta: given?.mta, domain: given?.domain, ip: given?.ip, recipient, tags: given?.tags, phase,
  sender: given?.sender ?? sender, mx: given?.mx ?? mx,
});

/** Phase and recipient of the `n`-th check of a mail none of whose earlier checks forced anything. */
function nthAttempt(base: Base, to: readonly string[], n: number): Attempt {
  if (n < 2) return attemptOf(base, n === 0 ? 'connect' : 'mail', base.given?.recipient);
  // Unforced, every recipient passes RCPT and reaches DATA in envelope order.
  return attemptOf(base, n < 2 + to.length ? 'rcpt' : 'data', to[(n - 2) % to.length]);
}

/** The envelope sender as rules see it: nodemailer sends `MAIL FROM:<>` for an empty or `false` from. */
const senderOf = (envelope: Envelope): string => (envelope.from === false || envelope.from === '' ? '<>' : envelope.from);

/** The host name an SMTP transport connects to (its `options.host`); none for an IP or a non-SMTP transport. */
function transportHost(transport: TransportLike): string | undefined {
  const host = (transport['options'] as { host?: unknown } | undefined)?.host;
  return typeof host === 'string' && host !== '' && isIP(host) === 0 ? host : undefined;
}

/**
 * Wraps `transport` so `interceptor` can force results per recipient.
 *
 * When no rule forces anything the mail goes to the wrapped transport as it is, its info and errors
 * untouched: the adapter then costs its checks and one envelope read (see docs/performance.md).
 *
 * @example
 * ```ts
 * const smtp = nodemailer.createTransport({ host: 'mx.example', port: 25 }).transporter
 * const mailer = nodemailer.createTransport(interceptTransport(smtp, ic, { attempt: (mail) => ({ tags: String(mail.data.headers?.['x-campaign'] ?? '') }) }))
 * ```
 */
export function interceptTransport(transport: TransportLike, interceptor: Interceptor, options: InterceptTransportOptions = {}): TransportLike {
  const mapper = options.attempt;
  const mx = options.mx ?? transportHost(transport);

  /**
   * The checks of one mail, phase by phase, as an SMTP session would meet them, once a check forced
   * something. The `skipped` checks before `first` were made (all unforced) by `send`, in the order
   * this function makes them: they are replayed, not repeated.
   */
  async function decide(mail: MailLike, envelope: Envelope, base: Base, skipped: number, first: ForcedResult): Promise<Record<string, unknown>> {
    const given = base.given;
    let replay = skipped;
    let pending: ForcedResult | undefined = first;
    const next = (attempt: Attempt): ForcedResult | undefined => {
      if (replay > 0) { replay--; return undefined; }
      if (pending !== undefined) { const result = pending; pending = undefined; return result; }
      return interceptor.check(attempt);
    };
    /**
     * A reply, or nothing. A disconnect, reset or hang throws nodemailer's error for it; a tls fault
     * throws the error nodemailer reports for it with the transport's STARTTLS options, or passes when
     * nodemailer would go on in clear. A throttle passes: it only slows a connection nodemailer then
     * completes (docs/nodemailer.md).
     */
    const check = async (attempt: Attempt): Promise<ForcedReply | undefined> => {
      const result = next(attempt);
      if (result?.fault === undefined) return result;
      const options = (transport.options ?? {}) as TransportOptions;
      const { fault } = result;
      if (fault.kind === 'throttle') return undefined;
      if (fault.kind !== 'tls') throw await faultError(result, attempt.phase ?? 'rcpt', options);
      const err = tlsError(fault.tls, result, options);
      if (err !== undefined) throw err;
      return undefined;
    };
    const attempt = (phase: Attempt['phase'], recipient: string | undefined) => attemptOf(base, phase, recipient);

    const connect = await check(attempt('connect', given?.recipient));
    if (connect && connect.delay > 0) await sleep(connect.delay);
    if (connect && connect.outcome !== 'accepted') {
      throw smtpError(`Invalid greeting. response=${connect.reply}`, 'EPROTOCOL', connect, 'CONN');
    }
    const sender = await check(attempt('mail', given?.recipient));
    if (sender && sender.delay > 0) await sleep(sender.delay);
    if (sender && sender.outcome !== 'accepted') throw smtpError('Mail command failed', 'EENVELOPE', sender, 'MAIL FROM');

    const accepted: string[] = [];
    const rejected: string[] = [];
    const rejectedErrors: Error[] = [];
    const passing: string[] = [];
    let acceptedReply: ForcedReply | undefined;
    for (const recipient of envelope.to) {
      const result = await check(attempt('rcpt', recipient));
      if (result && result.delay > 0) await sleep(result.delay);
      if (result === undefined) passing.push(recipient);
      else if (result.outcome === 'accepted') { accepted.push(recipient); acceptedReply ??= result; }
      else {
        rejected.push(recipient);
        rejectedErrors.push(Object.assign(smtpError('Recipient command failed', 'EENVELOPE', result, 'RCPT TO'), { recipient }));
      }
    }
    if (accepted.length === 0 && passing.length === 0) {
      // As nodemailer: a temporary rejection is reported rather than the last one, so the message is retried.
      const errors = rejectedErrors as (Error & { response: string; responseCode: number })[];
      const reply = errors.find((e) => e.responseCode < 500) ?? errors[errors.length - 1]!;
      const err = new Error(`Can't send mail - all recipients were rejected: ${reply.response}`) as Error & Record<string, unknown>;
      Object.assign(err, { code: 'EENVELOPE', response: reply.response, responseCode: reply.responseCode, permanent: reply.responseCode >= 500 && reply.responseCode !== 503, command: 'RCPT TO', rejected, rejectedErrors });
      throw err;
    }
    // One reply ends the transaction: the first recipient a data-phase rule forces decides it, as at the fake MX.
    let dataReply: ForcedReply | undefined;
    for (const list of [accepted, passing]) {
      for (const recipient of list) {
        const result = await check(attempt('data', recipient));
        if (result && result.delay > 0) await sleep(result.delay);
        if (result && result.outcome !== 'accepted') throw smtpError('Message failed', 'EMESSAGE', result, 'DATA');
        dataReply ??= result;
      }
    }

    const merge = (info: Record<string, unknown>): Record<string, unknown> => {
      const passedAccepted = (info.accepted as string[] | undefined) ?? [];
      const passedRejected = (info.rejected as string[] | undefined) ?? [];
      const passedErrors = (info.rejectedErrors as Error[] | undefined) ?? [];
      const inOrder = (list: string[]) => envelope.to.filter((r) => list.includes(r));
      const merged: Record<string, unknown> = {
        ...info,
        accepted: inOrder([...accepted, ...passedAccepted]),
        rejected: inOrder([...rejected, ...passedRejected]),
        envelope: { from: envelope.from, to: envelope.to },
        messageId: info.messageId ?? mail.message.messageId(),
      };
      // A forced 2xx after DATA is the reply to the message, as a server's would be.
      if (dataReply !== undefined) merged.response = dataReply.reply;
      const allErrors = [...rejectedErrors, ...passedErrors];
      if (allErrors.length > 0) merged.rejectedErrors = allErrors;
      return merged;
    };
    if (passing.length === 0) return merge({ response: (dataReply ?? acceptedReply!).reply });
    // Only a mail some rule forced pays for re-addressing (nodemailer re-parses every address).
    const partial = passing.length < envelope.to.length;
    if (partial) mail.message.setEnvelope({ from: envelope.from, to: passing });
    try {
      const info = await new Promise<Record<string, unknown>>((resolve, reject) => {
        transport.send(mail, (err, result) => (err ? reject(err) : resolve(result ?? {})));
      });
      return merge(info);
    } finally {
      if (partial) mail.message.setEnvelope(envelope);
    }
  }

  const wrapped: TransportLike = {
    name: `intercept(${transport.name ?? 'transport'})`,
    version: transport.version ?? '0',
    send(mail, callback) {
      // The usual case, no rule forcing anything, runs synchronously and hands the mail over untouched:
      // no promise, no re-addressing, no merged info (measured: ~30 µs per sendMail before).
      let envelope: Envelope;
      let base: Base;
      let checked = 0;
      let first: ForcedResult | undefined;
      try {
        envelope = readEnvelope(mail.message);
        base = { given: mapper?.(mail), sender: senderOf(envelope), mx };
        for (const total = 2 + 2 * envelope.to.length; checked < total; checked++) {
          first = interceptor.check(nthAttempt(base, envelope.to, checked));
          if (first !== undefined) break;
        }
      } catch (err) {
        callback(err as Error);
        return;
      }
      if (first === undefined) {
        transport.send(mail, callback);
        return;
      }
      decide(mail, envelope, base, checked, first).then((info) => callback(null, info), (err: Error) => callback(err));
    },
  };
  // Pass everything else through (verify, close, isIdle, mailer, getSocket, events...).
  return new Proxy(wrapped, {
    get(target, key) {
      if (key === 'send' || key === 'name' || key === 'version') return target[key as 'send'];
      const value = (transport as unknown as Record<string | symbol, unknown>)[key];
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(transport) : value;
    },
    set(_target, key, value) {
      (transport as unknown as Record<string | symbol, unknown>)[key] = value;
      return true;
    },
  });
}
