/**
 * @internal A fake MX for MTA plugins that decide a delivery's forced results before connecting. Each
 * routed delivery gets its own loopback port, so the script is known before the greeting (a
 * connect-phase reply); its one connection is handed to a shared, non-listening smtp-server.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { SMTPServer } from 'smtp-server';
import type { Attempt, ForcedResult, Interceptor } from '../index.js';
import { answer, type Callback, replyError } from './smtp-reply.js';

/** A reply given without a rule: recipients of a routed delivery that no rule forces. */
export interface PlainReply {
  readonly code: number;
  readonly extended: string;
  readonly description: string;
}

/** What the fake MX answers for one delivery, decided by the plugin that routed it. */
export interface DeliveryScript {
  readonly connect?: ForcedResult | undefined;
  readonly mail?: ForcedResult | undefined;
  /** By lower-case address: the RCPT reply, then (if accepted) the DATA reply. */
  readonly recipients: ReadonlyMap<string, { readonly rcpt?: ForcedResult | undefined; readonly data?: ForcedResult | undefined }>;
  /** The RCPT reply for a recipient the script has no result for. */
  readonly unforced: PlainReply;
}

/** Decides a delivery: undefined when no rule forces anything, else the fake MX's script. */
export function scriptDelivery(interceptor: Interceptor, base: Attempt, recipients: readonly string[], unforced: PlainReply): DeliveryScript | undefined {
  const failing = (r: ForcedResult | undefined) => r !== undefined && r.outcome !== 'accepted';
  const connect = interceptor.check({ ...base, phase: 'connect' });
  const mail = failing(connect) ? undefined : interceptor.check({ ...base, phase: 'mail' });
  const map = new Map<string, { rcpt?: ForcedResult | undefined; data?: ForcedResult | undefined }>();
  let forced = failing(connect) || failing(mail);
  if (!forced) {
    for (const recipient of recipients) {
      const rcpt = interceptor.check({ ...base, recipient, phase: 'rcpt' });
      const data = failing(rcpt) ? undefined : interceptor.check({ ...base, recipient, phase: 'data' });
      if (rcpt !== undefined || data !== undefined) forced = true;
      map.set(recipient.toLowerCase(), { rcpt, data });
    }
  }
  return forced ? { connect, mail, recipients: map, unforced } : undefined;
}

interface Session { id: string; envelope: { rcptTo: { address: string }[] } }

export class ScriptedMx {
  readonly #scripts = new Map<string, DeliveryScript>();
  readonly #listeners = new Set<Server>();
  readonly #server: SMTPServer;

  constructor(private readonly connectTimeout = 60_000) {
    const script = (session: Session) => this.#scripts.get(session.id);
    this.#server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      disableReverseLookup: true,
      closeTimeout: 1000,
      onConnect: (session: Session, cb: Callback) => answer(script(session)?.connect, cb),
      onMailFrom: (_a: unknown, session: Session, cb: Callback) => answer(script(session)?.mail, cb),
      onRcptTo: (address: { address: string }, session: Session, cb: Callback) => {
        const s = script(session);
        const entry = s?.recipients.get(address.address.toLowerCase());
        if (s === undefined || entry === undefined || (entry.rcpt === undefined && entry.data === undefined)) {
          return cb(replyError(s?.unforced ?? { code: 451, extended: '4.3.0', description: 'no delivery script' }));
        }
        answer(entry.rcpt, cb);
      },
      onData: (stream: Readable, session: Session, cb: Callback) => {
        stream.resume();
        stream.on('end', () => {
          const s = script(session);
          // One reply ends the transaction: the first accepted recipient with a forced DATA failure decides.
          let forced: ForcedResult | undefined;
          for (const rcpt of session.envelope.rcptTo) {
            const data = s?.recipients.get(rcpt.address.toLowerCase())?.data;
            if (data && data.outcome !== 'accepted') { forced = data; break; }
            forced ??= data;
          }
          answer(forced, cb, true);
        });
      },
      onClose: (session: Session) => { this.#scripts.delete(session.id); },
    } as unknown as ConstructorParameters<typeof SMTPServer>[0]);
    this.#server.on('error', () => undefined); // a client's broken connection is the client's business
  }

  /** Opens a loopback port whose first connection is answered by `script`. */
  async route(script: DeliveryScript): Promise<{ host: string; port: number }> {
    const id = randomBytes(12).toString('hex');
    const listener = createServer({ pauseOnConnect: false }, (socket: Socket) => {
      this.#close(listener);
      this.#scripts.set(id, script);
      this.#server.connect(socket, { id } as Parameters<SMTPServer['connect']>[1]);
    });
    this.#listeners.add(listener);
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(0, '127.0.0.1', () => resolve());
    });
    // A delivery that never connects (its MTA shut down) must not hold the port.
    setTimeout(() => this.#close(listener), this.connectTimeout).unref();
    const address = listener.address();
    if (address === null || typeof address === 'string') throw new Error('scripted MX has no port');
    return { host: '127.0.0.1', port: address.port };
  }

  #close(listener: Server): void {
    if (this.#listeners.delete(listener)) listener.close();
  }

  /** Closes unused ports and open sessions. */
  async close(): Promise<void> {
    for (const listener of [...this.#listeners]) this.#close(listener);
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
