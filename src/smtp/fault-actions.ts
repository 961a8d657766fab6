/**
 * @internal What one session keeps to perform the handler's actions beyond a plain reply: the timer of
 * a delayed action or a hang, a mid-DATA cut and the octets read under it, the rate of throttled
 * replies, and whether the connection is gone. The session decides which action a step gets and what
 * each reply says; this performs the timing and the ending, and `faults.ts` touches the socket.
 */
import type { Connection } from './connection.js';
import { drop, writeThrottled } from './faults.js';
import type { DropAction } from './handler.js';

/** One session's fault actions and the state they keep. */
export class FaultActions {
  /** The connection is closed, or closing after its last reply: nothing more is read or answered. */
  gone = false;
  #timer: NodeJS.Timeout | undefined; // a delayed action or a hang
  #rate: number | undefined; // octets per second of replies, once a throttle action was given
  #stopWrite: (() => void) | undefined; // a throttled reply still being written
  #cut: DropAction | undefined; // cut the message being read after `afterBytes` octets
  #received = 0; // octets of the message being read under a cut

  constructor(private readonly conn: Connection, private readonly idleTimeout: number) {}

  /** A delayed action or a hang is pending: the session's next reply is not ready (or never will be). */
  get waiting(): boolean {
    return this.#timer !== undefined;
  }

  /** Runs `perform` after `delay` ms, at once when there is none. */
  later(delay: number, perform: () => void): void {
    if (delay <= 0) return perform();
    // The idle timeout measures the client's silence, not ours: it is off while a delayed action waits.
    this.conn.socket.setTimeout(0);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.conn.socket.setTimeout(this.idleTimeout);
      this.conn.corked(perform);
    }, delay);
  }

  /**
   * Reads nothing more and answers nothing (the session leaves its reader busy, so the socket stays
   * paused). The idle timeout would answer 421: it is replaced by a silent close after `closeAfter`,
   * else after the idle timeout, so a hung session still ends.
   */
  hang(closeAfter: number | undefined): void {
    this.conn.socket.setTimeout(0);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.drop('close');
    }, closeAfter !== undefined && closeAfter > 0 ? closeAfter : this.idleTimeout);
  }

  /** Closes (FIN) or resets (RST) the connection without a reply. */
  drop(kind: DropAction['kind']): void {
    if (this.gone) return;
    this.gone = true;
    this.#cut = undefined;
    drop(this.conn.socket, kind);
  }

  /** The message about to be read is cut (`action.kind`) once more than `action.afterBytes` octets came. */
  cutAfter(action: DropAction): void {
    this.#cut = action;
    this.#received = 0;
  }

  /**
   * Counts `octets` of the message being read and cuts past the limit. True while a cut is set: the
   * handler never sees the bytes of a message that is cut, so nothing of it can be kept.
   */
  cutting(octets: number): boolean {
    if (this.#cut === undefined) return false;
    this.#received += octets;
    if (this.#received > (this.#cut.afterBytes ?? Infinity)) this.drop(this.#cut.kind);
    return true;
  }

  /** The end of a message came before its cut: cuts now. False when no cut was set. */
  cutAtEnd(): boolean {
    if (this.#cut === undefined) return false;
    this.drop(this.#cut.kind);
    return true;
  }

  /** From the next reply on, replies leave at most `bytesPerSecond` octets per second (a slow link). */
  throttle(bytesPerSecond: number): void {
    this.#rate = bytesPerSecond;
  }

  /**
   * Writes a reply and calls `written` once it is out: at once, or (throttled) later, corked, and not at
   * all if the connection goes first. A reply that `closes` leaves the session gone from now on.
   */
  write(wire: string, closes: boolean, written: () => void): void {
    const socket = this.conn.socket;
    if (this.#rate === undefined) {
      socket.write(wire, 'latin1');
      return written();
    }
    if (closes) this.gone = true; // nothing more is answered while the last reply trickles out
    this.#stopWrite = writeThrottled(socket, wire, this.#rate, () => {
      this.#stopWrite = undefined;
      this.conn.corked(written);
    });
  }

  /** Closes the connection after its last reply (`421`, QUIT's `221`). */
  close(): void {
    this.gone = true;
    drop(this.conn.socket, 'close');
  }

  /** The connection is closed: nothing pending may act on it any more. */
  end(): void {
    this.gone = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#stopWrite?.();
  }
}
