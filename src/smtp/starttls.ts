/**
 * @internal STARTTLS (RFC 3207) for one session: whether the EHLO reply offers it, which STARTTLS
 * commands are refused before the handler is asked, and the upgrade of the connection to a `TLSSocket`
 * with the session reset after the handshake. The session keeps its reader and handler; this owns the
 * TLS state between the `220` and the end of the handshake.
 */
import type { Socket } from 'node:net';
import { type SecureContext, TLSSocket } from 'node:tls';
import { REPLIES } from './protocol.js';
import type { Reply } from './reply.js';

/** What an upgrade needs of its session. */
export interface Upgradable {
  /** Whether the connection is gone: then nothing is wrapped. */
  gone(): boolean;
  /** Stops the session's own listeners on the plain socket and drops what was read in clear. */
  detach(plain: Socket): void;
  /** Takes the TLS socket as the session's connection (its listeners, its idle timeout). */
  attach(secure: Socket): void;
  /** The handshake is done: the session forgets what it knew from the client, and reads on. */
  restart(): void;
}

/** One session's STARTTLS state. */
export class StartTls {
  /** The last EHLO reply offered STARTTLS. */
  #offered = false;
  /**
   * After STARTTLS's `220`: the handshake under way (`upgrade`) or a forced failure of it (`abort`, the
   * client's first handshake bytes are answered by a close). While set, nothing is read in clear.
   */
  pending: 'upgrade' | 'abort' | undefined;

  /** `context`: the server's certificate; none: STARTTLS is neither offered nor accepted. */
  constructor(private readonly context: SecureContext | undefined) {}

  /** Whether this EHLO reply offers STARTTLS: on a plain connection of a server with a certificate, when the handler agrees. */
  offer(secure: boolean, handlerAgrees: () => boolean): boolean {
    this.#offered = this.context !== undefined && !secure && handlerAgrees();
    return this.#offered;
  }

  /** The reply to a STARTTLS the handler is not asked about, or `undefined` to ask it. */
  refusal(args: string, secure: boolean): Reply | undefined {
    if (args !== '') return REPLIES.noArguments;
    if (secure) return REPLIES.alreadyTls;
    // Not offered (no certificate, or the handler withheld it): as if not implemented, §4.2.4.
    if (!this.#offered) return REPLIES.notImplemented;
    return undefined;
  }

  /** RFC 3207 §4: after the `220`, re-attaches `session` to a TLS socket over the same connection. */
  upgrade(plain: Socket, session: Upgradable): void {
    this.pending = 'upgrade';
    session.detach(plain); // §4.2: nothing sent in clear after STARTTLS is kept
    plain.setTimeout(0);
    // The 220 is still corked: wrap the socket once it is flushed. The client's handshake cannot come
    // before it has read the 220, so nothing arrives in between.
    process.nextTick(() => {
      if (session.gone() || plain.destroyed) return;
      const secure = new TLSSocket(plain, { isServer: true, secureContext: this.context! });
      session.attach(secure);
      secure.once('secure', () => {
        this.pending = undefined;
        session.restart(); // §4.2: the server forgets everything it knew from the client before TLS
      });
    });
  }
}
