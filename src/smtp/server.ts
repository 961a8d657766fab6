/**
 * @internal The SMTP server engine: a `node:net` listener (or sockets handed over by another listener)
 * running one {@link Session} per connection with a handler's actions, and a shutdown that says `421`
 * to every open session and drops the connections that linger.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { hostname as osHostname } from 'node:os';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { SmtpHandler } from './handler.js';
import { serverReplies, type ServerReplies } from './protocol.js';
import { formatReply } from './reply.js';
import { Session } from './session.js';

/** Options of {@link SmtpServer}. */
export interface SmtpServerOptions {
  handler: SmtpHandler;
  /** Name in the greeting and the EHLO reply. @default os.hostname() */
  hostname?: string;
  /** Largest message in octets, announced as `SIZE` and enforced with `552 5.3.4`. @default 10 MiB */
  size?: number;
  /** Recipients per transaction; more get `452 4.5.3` (RFC 5321 §4.5.3.1.8 asks for at least 100). @default 100 */
  maxRecipients?: number;
  /**
   * Longest command line in octets with its CRLF. RFC 5321 §4.5.3.1.4 sets 512, and lets extensions add
   * to it: the MAIL parameters announced here (SIZE, BODY, SMTPUTF8) need up to 46 more. @default 560
   */
  maxLine?: number;
  /** Milliseconds a client may stay silent before `421 4.4.2` (RFC 5321 §4.5.3.2.7). @default 300000 */
  idleTimeout?: number;
  /** Open sessions at most; one more gets `421 4.3.2` and is closed (RFC 5321 §3.8). @default 1000 */
  maxConnections?: number;
  /** After `close()`, milliseconds before lingering connections are dropped (at most 1000). @default 1000 */
  closeGrace?: number;
  /** Key and certificate (PEM) for STARTTLS (RFC 3207); without them STARTTLS is not offered. */
  tls?: { key: string | Buffer; cert: string | Buffer } | undefined;
  /** Called with what a handler threw or rejected, and with replies that could not be written (the client got `451 4.3.0`). */
  onError?: (err: unknown, session: { readonly id: string }) => void;
}

const TOO_MANY = formatReply({ code: 421, extended: '4.3.2', lines: ['Too many connections, try again later'] });

/**
 * An SMTP server running a handler's actions: one session per connection, RFC 5321 replies where the
 * handler leaves the choice to the engine, limits on size, recipients, lines and connections.
 *
 * @example
 * ```ts
 * const server = new SmtpServer({ handler: { rcpt: (s, to) => ({ kind: 'reply', reply: { code: 550, extended: '5.1.1', lines: ['no such user'] } }) } })
 * const { port } = await server.listen(0, '127.0.0.1')
 * await server.close()
 * ```
 */
export class SmtpServer {
  readonly #sessions = new Set<Session>();
  readonly #options: Required<Omit<SmtpServerOptions, 'onError' | 'tls'>> & Pick<SmtpServerOptions, 'onError'>;
  readonly #tls: SecureContext | undefined;
  readonly #prefix = randomBytes(4).toString('hex');
  #count = 0;
  #server: Server | undefined;
  #closed: Promise<void> | undefined;
  #drained: (() => void) | undefined;
  readonly #replies: ServerReplies;

  constructor(options: SmtpServerOptions) {
    const { handler, hostname = osHostname() || 'localhost', size = 10 * 1024 * 1024, maxRecipients = 100, maxLine = 560, idleTimeout = 300_000, maxConnections = 1000, closeGrace = 1000, onError } = options;
    for (const [name, value, min] of [['size', size, 1], ['maxRecipients', maxRecipients, 1], ['maxLine', maxLine, 512], ['idleTimeout', idleTimeout, 1], ['maxConnections', maxConnections, 1], ['closeGrace', closeGrace, 0]] as const) {
      if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`SmtpServer: ${name} must be an integer of at least ${min}, got ${String(value)}`);
    }
    if (closeGrace > 1000) throw new RangeError(`SmtpServer: closeGrace must be at most 1000 ms, got ${closeGrace}`);
    this.#options = { handler, hostname, size, maxRecipients, maxLine, idleTimeout, maxConnections, closeGrace, onError };
    this.#replies = serverReplies(hostname, size);
    try {
      this.#tls = options.tls === undefined ? undefined : createSecureContext({ key: options.tls.key, cert: options.tls.cert });
    } catch (err) {
      throw new TypeError(`SmtpServer: tls.key and tls.cert must be a matching PEM key and certificate: ${(err as Error).message}`, { cause: err });
    }
    try {
      for (const reply of Object.values(this.#replies)) formatReply(reply);
    } catch (err) {
      throw new RangeError(`SmtpServer: hostname must be printable US-ASCII that fits a reply line, got ${JSON.stringify(hostname)}`, { cause: err });
    }
  }

  /** Listens on `host:port` (0: a free port) and resolves to the bound address. */
  async listen(port: number, host: string): Promise<AddressInfo> {
    const server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => { server.off('error', reject); resolve(); });
    });
    this.#server = server;
    return server.address() as AddressInfo;
  }

  /** Runs a session on a connection accepted elsewhere (e.g. one port per scripted delivery). */
  accept(socket: Socket): void {
    if (this.#closed !== undefined) {
      socket.destroy();
      return;
    }
    if (this.#sessions.size >= this.#options.maxConnections) {
      socket.on('error', () => undefined);
      socket.setTimeout(10_000, () => socket.destroy()); // a client that never closes its side
      socket.end(TOO_MANY, 'latin1');
      return;
    }
    const { handler, size, maxRecipients, maxLine, idleTimeout, onError } = this.#options;
    const session = new Session(`${this.#prefix}${(this.#count++).toString(36)}`, socket, handler, { replies: this.#replies, size, maxRecipients, maxLine, idleTimeout, tls: this.#tls }, (err, s) => {
      if (onError === undefined) queueMicrotask(() => { throw err; }); // never silent: with no listener it is an uncaught error
      else onError(err, s);
    });
    this.#sessions.add(session);
    socket.once('close', () => {
      this.#sessions.delete(session);
      if (this.#sessions.size === 0) this.#drained?.();
    });
  }

  /** Open sessions right now. */
  get connections(): number {
    return this.#sessions.size;
  }

  /**
   * Stops listening, says `421 4.3.2` to every session waiting for a command (the others right after
   * their current reply), and drops what is still open after `closeGrace`. Resolves once all are closed.
   */
  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      const listening = new Promise<void>((done) => (this.#server === undefined ? done() : this.#server.close(() => done())));
      for (const session of this.#sessions) session.shutdown();
      const grace = setTimeout(() => { for (const session of this.#sessions) session.destroy(); }, this.#options.closeGrace);
      const drained = new Promise<void>((done) => { if (this.#sessions.size === 0) done(); else this.#drained = done; });
      void Promise.all([listening, drained]).then(() => { clearTimeout(grace); resolve(); });
    });
    return this.#closed;
  }
}
