/**
 * @internal A fake MX for MTA plugins that decide a delivery's forced results before connecting. Each
 * routed delivery gets its own loopback port, so the script is known before the greeting (a
 * connect-phase reply); its one connection runs a session of the library's SMTP engine answering that
 * script.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Attempt, ForcedResult, Interceptor } from '../index.js';
import type { SmtpHandler } from '../smtp/handler.js';
import { SmtpServer } from '../smtp/server.js';
import { forcedAction, type PlainReply, replyOf } from './forced-reply.js';

export type { PlainReply } from './forced-reply.js';

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

const NO_SCRIPT: PlainReply = { code: 451, extended: '4.3.0', description: 'no delivery script' };

/** The engine handler answering one delivery's script. */
function scriptHandler(script: DeliveryScript): SmtpHandler {
  return {
    connect: () => forcedAction(script.connect),
    mail: () => forcedAction(script.mail),
    rcpt: (_s, to) => {
      const entry = script.recipients.get(to.address.toLowerCase());
      if (entry === undefined || (entry.rcpt === undefined && entry.data === undefined)) return { kind: 'reply', reply: replyOf(script.unforced ?? NO_SCRIPT) };
      return forcedAction(entry.rcpt);
    },
    // The message itself is not kept (no chunk handler): only its reply matters.
    message: (s) => {
      // One reply ends the transaction: the first accepted recipient with a forced DATA failure decides.
      let forced: ForcedResult | undefined;
      for (const rcpt of s.rcptTo) {
        const data = script.recipients.get(rcpt.toLowerCase())?.data;
        if (data && data.outcome !== 'accepted') { forced = data; break; }
        forced ??= data;
      }
      return forcedAction(forced);
    },
  };
}

/** The per-delivery fake MX of the Haraka and ZoneMTA plugins: `route(script)` opens a port answering it. */
export class ScriptedMx {
  readonly #listeners = new Set<Server>();
  readonly #servers = new Set<SmtpServer>();

  constructor(private readonly connectTimeout = 60_000) {}

  /** Opens a loopback port whose first connection is answered by `script`. */
  async route(script: DeliveryScript): Promise<{ host: string; port: number }> {
    // A reply the engine cannot write (say a rule text it refuses) was answered 451: the host's log should say why.
    const engine = new SmtpServer({ handler: scriptHandler(script), hostname: 'localhost', onError: (err) => process.emitWarning(err instanceof Error ? err : String(err), 'SmtpInterceptWarning') });
    const listener = createServer((socket: Socket) => {
      this.#close(listener);
      this.#servers.add(engine);
      socket.once('close', () => this.#servers.delete(engine));
      engine.accept(socket);
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
    await Promise.all([...this.#servers].map((server) => server.close()));
  }
}
