/**
 * `smtp-intercept/nodemailer`: wraps any nodemailer transport so forced results are reported exactly as
 * nodemailer's SMTP transport reports the same reply from a real server (error messages, `code`,
 * `response`, `responseCode`, `permanent`, `command`, `recipient`, `info.accepted/rejected/
 * rejectedErrors`). Recipients no rule forces go through the wrapped transport; results are merged.
 * No runtime import of nodemailer: the adapter only calls the transport it is given.
 */
import type { Attempt, ForcedResult, Interceptor } from '../index.js';

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
  /** Attempt fields (pool, mta, tags, ip, ...) for a message, e.g. from a header. Recipient and phase are set by the adapter. */
  attempt?: (mail: MailLike) => Partial<Attempt>;
}

/** An error as nodemailer's SMTP connection formats it for a server reply (see its `_formatError`). */
function smtpError(message: string, code: string, result: ForcedResult, command: string): Error & Record<string, unknown> {
  const err = new Error(`${message}: ${result.reply}`) as Error & Record<string, unknown>;
  err.code = code;
  err.response = result.reply;
  err.responseCode = result.code;
  err.permanent = result.code >= 500 && result.code !== 503;
  err.command = command;
  return err;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Wraps `transport` so `interceptor` can force results per recipient.
 *
 * @example
 * ```ts
 * const smtp = nodemailer.createTransport({ host: 'mx.example', port: 25 }).transporter
 * const mailer = nodemailer.createTransport(interceptTransport(smtp, ic, { attempt: (mail) => ({ tags: String(mail.data.headers?.['x-campaign'] ?? '') }) }))
 * ```
 */
export function interceptTransport(transport: TransportLike, interceptor: Interceptor, options: InterceptTransportOptions = {}): TransportLike {
  const mapper = options.attempt ?? (() => ({}));

  async function send(mail: MailLike): Promise<Record<string, unknown>> {
    const envelope = mail.message.getEnvelope();
    const base: Attempt = { ...mapper(mail) };
    const wait = async (result: ForcedResult | undefined) => { if (result && result.delay > 0) await sleep(result.delay); };

    const connect = interceptor.check({ ...base, phase: 'connect' });
    await wait(connect);
    if (connect && connect.outcome !== 'accepted') {
      throw smtpError(`Invalid greeting. response=${connect.reply}`, 'EPROTOCOL', connect, 'CONN');
    }
    const sender = interceptor.check({ ...base, phase: 'mail' });
    await wait(sender);
    if (sender && sender.outcome !== 'accepted') throw smtpError('Mail command failed', 'EENVELOPE', sender, 'MAIL FROM');

    const accepted: string[] = [];
    const rejected: string[] = [];
    const rejectedErrors: Error[] = [];
    const passing: string[] = [];
    let acceptedReply: ForcedResult | undefined;
    for (const recipient of envelope.to) {
      const result = interceptor.check({ ...base, recipient, phase: 'rcpt' });
      await wait(result);
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
    for (const recipient of [...accepted, ...passing]) {
      const result = interceptor.check({ ...base, recipient, phase: 'data' });
      await wait(result);
      if (result && result.outcome !== 'accepted') throw smtpError('Message failed', 'EMESSAGE', result, 'DATA');
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
      const allErrors = [...rejectedErrors, ...passedErrors];
      if (allErrors.length > 0) merged.rejectedErrors = allErrors;
      return merged;
    };
    if (passing.length === 0) {
      return merge({ response: acceptedReply!.reply });
    }
    mail.message.setEnvelope({ from: envelope.from, to: passing });
    try {
      const info = await new Promise<Record<string, unknown>>((resolve, reject) => {
        transport.send(mail, (err, result) => (err ? reject(err) : resolve(result ?? {})));
      });
      return merge(info);
    } finally {
      mail.message.setEnvelope(envelope);
    }
  }

  const wrapped: TransportLike = {
    name: `intercept(${transport.name ?? 'transport'})`,
    version: transport.version ?? '0',
    send(mail, callback) {
      send(mail).then((info) => callback(null, info), (err: Error) => callback(err));
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
