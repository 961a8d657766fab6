/**
 * @internal A session's hold on its connection: the socket now (STARTTLS replaces the plain one with a
 * `TLSSocket` over it), the session's own listeners and idle timeout on it, reads paused while the
 * reader holds a unit, and replies corked into one segment.
 */
import type { Socket } from 'node:net';

/** What the connection reports to its session. */
export interface ConnectionEvents {
  data(chunk: Buffer): void;
  close(): void;
  /** The client was silent for the idle timeout. */
  timeout(): void;
}

/** One session's connection. */
export class Connection {
  #socket: Socket;
  #paused = false;

  constructor(socket: Socket, private readonly events: ConnectionEvents, private readonly idleTimeout: number) {
    this.#socket = socket;
    this.#attach(socket);
  }

  /** The socket now: the plain one, or after STARTTLS the TLS one. */
  get socket(): Socket {
    return this.#socket;
  }

  readonly #onData = (chunk: Buffer): void => this.events.data(chunk);
  readonly #onClose = (): void => this.events.close();
  readonly #onTimeout = (): void => this.events.timeout();

  #attach(socket: Socket): void {
    socket.setNoDelay(true); // replies are small and awaited one by one: Nagle would hold them back
    socket.on('data', this.#onData);
    socket.on('error', () => undefined); // a client resetting its connection is the client's business
    socket.on('close', this.#onClose);
    socket.setTimeout(this.idleTimeout, this.#onTimeout);
  }

  /** Pauses reading while the reader holds a unit, resumes once it wants more. */
  hold(hold: boolean): void {
    // Only on a change: resume() on a flowing stream still schedules a tick.
    if (hold === this.#paused) return;
    this.#paused = hold;
    if (hold) this.#socket.pause();
    else this.#socket.resume();
  }

  /** STARTTLS: stops the session's own listeners on the plain socket. */
  detach(): void {
    // Only the session's own listeners: the server's (connection count) stay on the connection.
    this.#socket.off('data', this.#onData).off('close', this.#onClose).off('timeout', this.#onTimeout);
  }

  /** STARTTLS: the TLS socket becomes the connection, with the session's listeners and idle timeout. */
  attach(secure: Socket): void {
    this.#socket = secure;
    this.#paused = false;
    this.#attach(secure);
  }

  /** Runs `fn` with the socket corked: replies to pipelined commands leave in one segment. */
  corked(fn: () => void): void {
    // RFC 2920 §3.2: the server flushes when its input runs out.
    this.#socket.cork();
    try {
      fn();
    } finally {
      this.#socket.uncork();
    }
  }
}
