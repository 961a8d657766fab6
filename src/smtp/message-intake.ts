/**
 * @internal A message's bytes handed to the handler, in order. A handler that answers a chunk with a
 * promise holds the reader (nothing more is read) until it has taken that chunk and those before it:
 * backpressure from the handler to the client. A handler that fails is reported once and given nothing
 * more of that message; the session then refuses the message.
 */
import { isThenable, type SessionInfo, type SmtpHandler } from './handler.js';

/** What the intake needs of its session. */
export interface IntakeHost {
  /** Read nothing more until `resume`. */
  hold(): void;
  /** The handler took everything it was given (or failed): read on while the message lasts. */
  resume(): void;
  /** Runs `fn` with the socket corked, so the replies it writes leave in one segment. */
  corked(fn: () => void): void;
  /** A handler's failure, for the server's `onError`. */
  report(err: unknown): void;
}

/** One session's hand-over of message bytes to its handler. */
export class MessageIntake {
  /** The handler failed while taking the current message: it gets nothing more of it. */
  failed = false;
  #writing: PromiseLike<void> | undefined; // a handler still taking message bytes

  constructor(private readonly session: SessionInfo, private readonly handler: SmtpHandler, private readonly host: IntakeHost) {}

  /** Hands `chunk` (dot-unstuffed message bytes) to the handler. */
  push(chunk: Buffer): void {
    if (this.failed || this.handler.chunk === undefined) return;
    let pending: void | PromiseLike<void>;
    try {
      pending = this.handler.chunk(this.session, chunk);
    } catch (err) {
      return this.#fail(err);
    }
    if (!isThenable<void>(pending)) return;
    // Backpressure: read nothing more until the handler has taken this chunk (and those before it).
    this.host.hold();
    const previous = this.#writing;
    const mine: PromiseLike<void> = (previous === undefined ? pending : previous.then(() => pending)).then(() => {
      if (this.#writing !== mine) return;
      this.#writing = undefined;
      this.host.resume();
    }, (err: unknown) => this.#fail(err));
    this.#writing = mine;
  }

  /** Calls `then` once the handler has taken every chunk: at once when it has, else corked, later. */
  settled(then: () => void): void {
    const writing = this.#writing;
    if (writing === undefined) return then();
    writing.then(() => this.host.corked(then), () => this.host.corked(then));
  }

  #fail(err: unknown): void {
    this.failed = true;
    this.host.report(err);
    this.host.resume(); // read the rest of the message, then refuse it
  }
}
