/**
 * @internal Framing, knowing nothing of commands or rules: splits the bytes of a connection into command
 * lines (with a length limit) and, in DATA mode, into dot-unstuffed message bytes up to a size cap,
 * until the end-of-data line. It hands over one unit at a time: after a command line or the end of a
 * message it holds everything else until the session calls `next()`, so a pipelining client's later
 * commands wait for the earlier replies and a slow handler stops the socket (backpressure).
 */

/** What the reader reports to its session. */
export interface ReaderSink {
  /** A command line without its line ending. The reader waits for `next()`. */
  line(line: string): void;
  /** A command line over the limit was read and discarded. The reader waits for `next()`. */
  tooLong(): void;
  /** Message bytes (dot-unstuffing done), in order, never more than the size cap in total. */
  data(chunk: Buffer): void;
  /** The end-of-data line arrived: `size` message octets, `overflow` when more than the cap. Waits for `next()`. */
  dataEnd(size: number, overflow: boolean): void;
}

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const CRLF = Buffer.from('\r\n');
const EMPTY = Buffer.alloc(0);

/**
 * The framing of one connection. `push` bytes in; it calls its sink with one command line (or the end of
 * a message) and then waits for `next()`.
 *
 * @example
 * ```ts
 * const reader = new LineReader(sink, 512, (hold) => (hold ? socket.pause() : socket.resume()))
 * socket.on('data', (chunk) => reader.push(chunk))
 * ```
 */
export class LineReader {
  #pending: Buffer = EMPTY;
  #busy = true; // nothing is read before the greeting went out
  #mode: 'command' | 'data' = 'command';
  #discarding = false; // inside a command line that is already over the limit
  #lineStart = true; // DATA: the next byte starts a line
  #size = 0;
  #cap = 0;

  /**
   * @param sink where lines and message bytes go
   * @param maxLine longest command line accepted, in octets with its CRLF (RFC 5321 §4.5.3.1.4)
   * @param onHold called with true when the reader holds unread bytes while busy (pause the socket)
   */
  constructor(private readonly sink: ReaderSink, private readonly maxLine: number, private readonly onHold: (hold: boolean) => void) {}

  /** Bytes from the connection. */
  push(chunk: Buffer): void {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    if (this.#busy) this.onHold(true);
    else this.#read();
  }

  /** Switches to DATA mode (after a 354) for a message of at most `cap` octets. Call before `next()`. */
  startData(cap: number): void {
    this.#mode = 'data';
    this.#lineStart = true;
    this.#size = 0;
    this.#cap = cap;
  }

  /** Forgets unread bytes (RFC 3207 §4.2: what a client pipelined after STARTTLS is discarded). */
  discard(): void {
    this.#pending = EMPTY;
  }

  /** The session is done with the last unit: read on. */
  next(): void {
    this.#busy = false;
    this.#read();
    if (!this.#busy) this.onHold(false);
  }

  /** Pauses delivery (e.g. the message sink is full) until `next()`. */
  hold(): void {
    this.#busy = true;
    this.onHold(true);
  }

  #read(): void {
    while (!this.#busy && this.#pending.length > 0) {
      if (!(this.#mode === 'command' ? this.#command() : this.#data())) return;
    }
  }

  /** Reads one command line; false when it needs more input. */
  #command(): boolean {
    const buf = this.#pending;
    const lf = buf.indexOf(LF);
    if (lf === -1) {
      // No line end yet: keep at most one limit's worth, so a client sending an endless line costs nothing.
      if (buf.length > this.maxLine) {
        this.#discarding = true;
        this.#pending = buf[buf.length - 1] === CR ? buf.subarray(buf.length - 1) : EMPTY;
      }
      return false;
    }
    this.#pending = buf.subarray(lf + 1);
    this.#busy = true;
    const end = lf > 0 && buf[lf - 1] === CR ? lf - 1 : lf;
    if (this.#discarding || end + 2 > this.maxLine) {
      this.#discarding = false;
      this.sink.tooLong();
    } else {
      this.sink.line(buf.toString('utf8', 0, end));
    }
    return true;
  }

  /** Reads message bytes; false when it needs more input. */
  #data(): boolean {
    const buf = this.#pending;
    let pos = 0;
    let from = 0; // start of the bytes not yet handed over
    for (;;) {
      if (this.#lineStart) {
        if (pos >= buf.length) break;
        if (buf[pos] === DOT) {
          if (pos + 2 >= buf.length) break; // cannot tell ".\r\n" from a stuffed dot yet
          if (buf[pos + 1] === CR && buf[pos + 2] === LF) {
            // RFC 5321 §4.1.1.4: CRLF.CRLF ends the message; the first CRLF belongs to it.
            this.#emit(buf, from, pos);
            this.#pending = buf.subarray(pos + 3);
            this.#mode = 'command';
            this.#busy = true;
            this.sink.dataEnd(this.#size, this.#size > this.#cap);
            return true;
          }
          // RFC 5321 §4.5.2: a line starting with a dot had one more dot put before it.
          this.#emit(buf, from, pos);
          from = pos + 1;
        }
        this.#lineStart = false;
      }
      const crlf = buf.indexOf(CRLF, pos);
      if (crlf === -1) {
        // Only CRLF starts a line (a bare LF does not: that is how SMTP smuggling hides a second message).
        pos = buf[buf.length - 1] === CR ? buf.length - 1 : buf.length;
        break;
      }
      pos = crlf + 2;
      this.#lineStart = true;
    }
    this.#emit(buf, from, pos);
    this.#pending = buf.subarray(pos);
    return false;
  }

  #emit(buf: Buffer, from: number, to: number): void {
    if (to <= from) return;
    const before = this.#size;
    this.#size += to - from;
    if (before >= this.#cap) return; // over the cap: counted, never handed over
    this.sink.data(buf.subarray(from, Math.min(to, from + this.#cap - before)));
  }
}
