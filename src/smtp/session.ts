/**
 * @internal One SMTP connection: follows the tables of `protocol.ts`, asks the handler for an action at
 * each step, and writes every reply through `formatReply`. Framing is the reader's, the socket
 * `connection.ts`'s, the timing and ending of fault actions `fault-actions.ts`'s, the hand-over of
 * message bytes `message-intake.ts`'s.
 */
import type { Socket } from 'node:net';
import type { SecureContext } from 'node:tls';
import { Connection } from './connection.js';
import { FaultActions } from './fault-actions.js';
import { type Action, type Decision, isThenable, type SessionInfo, type SmtpHandler } from './handler.js';
import { MessageIntake } from './message-intake.js';
import { ACCEPTS, isAscii, mailParameters, NOT_IMPLEMENTED, outOfSequence, type PathCommand, parsePath, REPLIES, type ServerReplies, type State, type Verb } from './protocol.js';
import { LineReader } from './reader.js';
import { type Reply, wireOf } from './reply.js';
import { StartTls, type Upgradable } from './starttls.js';

/** The limits and identity a session runs with. */
export interface SessionLimits {
  /** Greeting, EHLO and HELO replies. */
  readonly replies: ServerReplies;
  /** Largest message, in octets (announced as SIZE). */
  readonly size: number;
  readonly maxRecipients: number;
  /** Longest command line with its CRLF. */
  readonly maxLine: number;
  /** Milliseconds without input before `421 4.4.2`. */
  readonly idleTimeout: number;
  /** The certificate for STARTTLS; none: STARTTLS is neither offered nor accepted. */
  readonly tls: SecureContext | undefined;
}

/** One connection's session; created by `SmtpServer.accept`, it runs until the socket closes. */
export class Session implements SessionInfo {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  state: State = 'greeting';
  helo: string | undefined;
  mailFrom: PathCommand | undefined;
  rcptTo: string[] = [];
  secure = false;
  readonly #reader: LineReader;
  /** The connection; STARTTLS attaches its TLS socket here and keeps the reader. */
  readonly #conn: Connection;
  #utf8 = false; // the open transaction declared SMTPUTF8
  #closing = false; // the server is shutting down: 421 at the next command
  readonly #tls: StartTls;
  readonly #faults: FaultActions;
  readonly #intake: MessageIntake;

  constructor(
    readonly id: string,
    socket: Socket,
    private readonly handler: SmtpHandler,
    private readonly limits: SessionLimits,
    private readonly report: (err: unknown, session: Session) => void,
  ) {
    this.remoteAddress = socket.remoteAddress ?? '';
    this.remotePort = socket.remotePort ?? 0;
    this.localAddress = socket.localAddress ?? '';
    this.localPort = socket.localPort ?? 0;
    this.#reader = new LineReader({
      line: (line) => this.#command(line),
      tooLong: () => this.#reply(REPLIES.lineTooLong),
      data: (chunk) => this.#chunk(chunk),
      dataEnd: (size, overflow) => this.#dataEnd(size, overflow),
    }, limits.maxLine, (hold) => this.#conn.hold(hold));
    this.#tls = new StartTls(limits.tls);
    this.#conn = new Connection(socket, {
      data: (chunk) => {
        // A forced TLS failure: the client's first handshake bytes are answered by a close.
        if (this.#tls.pending === 'abort') return this.#faults.drop('close');
        this.#corked(() => this.#reader.push(chunk));
      },
      close: () => this.#end(),
      timeout: () => this.#corked(() => this.#reply(REPLIES.timeout)),
    }, limits.idleTimeout);
    this.#faults = new FaultActions(this.#conn, limits.idleTimeout);
    this.#intake = new MessageIntake(this, handler, {
      hold: () => this.#reader.hold(),
      resume: () => { if (this.state === 'data') this.#reader.next(); },
      corked: (fn) => this.#corked(fn),
      report: (err) => this.report(err, this),
    });
    this.#decide(() => this.handler.connect?.(this), limits.replies.greeting, (reply) => {
      // §3.1: a 554 (any refusal but 421) keeps the session, answering 503 until QUIT.
      this.state = reply.code < 300 ? 'fresh' : 'refused';
    });
  }

  /** Server shutdown: `421` now when idle, else right after the reply being prepared. */
  shutdown(): void {
    this.#closing = true;
    if (!this.#faults.gone && !this.#faults.waiting && this.state !== 'data') this.#corked(() => this.#reply(REPLIES.shuttingDown));
  }

  /** Drops the connection at once (after the shutdown grace). */
  destroy(): void {
    this.#conn.socket.destroy();
  }

  #command(line: string): void {
    if (this.#closing) return this.#reply(REPLIES.shuttingDown);
    const space = line.indexOf(' ');
    const word = (space === -1 ? line : line.slice(0, space)).toUpperCase();
    const args = space === -1 ? '' : line.slice(space + 1).trim();
    if (!Object.hasOwn(ACCEPTS, word)) return this.#reply(NOT_IMPLEMENTED.has(word) ? REPLIES.notImplemented : REPLIES.unrecognized);
    const verb = word as Verb;
    if (!ACCEPTS[verb].has(this.state)) return this.#reply(outOfSequence(verb, this.state));
    switch (verb) {
      case 'EHLO':
      case 'HELO':
        if (args === '') return this.#reply(REPLIES.needDomain);
        this.#resetTransaction(); // §4.1.4: EHLO in a session resets it like RSET
        this.helo = args;
        this.state = 'ready';
        return this.#reply(verb === 'EHLO' ? this.#ehlo() : this.limits.replies.helo);
      case 'MAIL': return this.#mail(args);
      case 'RCPT': return this.#rcpt(args);
      case 'DATA':
        if (args !== '') return this.#reply(REPLIES.noArguments);
        return this.#decide(() => this.handler.data?.(this), REPLIES.startData, (reply) => {
          if (reply.code !== 354) return;
          this.state = 'data';
          this.#reader.startData(this.limits.size);
        });
      case 'RSET':
        if (args !== '') return this.#reply(REPLIES.noArguments);
        this.#resetTransaction();
        return this.#reply(REPLIES.reset);
      case 'NOOP': return this.#reply(REPLIES.ok); // §4.1.1.9: an argument is ignored
      case 'QUIT': return this.#reply(REPLIES.closing, true);
      case 'VRFY': return this.#reply(args === '' ? REPLIES.needArgument : REPLIES.cannotVerify);
      case 'HELP': return this.#reply(REPLIES.help);
      case 'STARTTLS': return this.#starttls(args);
    }
  }

  /** The EHLO reply: STARTTLS offered on a plain connection of a server with a certificate. */
  #ehlo(): Reply {
    const offer = this.#tls.offer(this.secure, () => this.handler.offerTls?.(this) ?? true);
    return offer ? this.limits.replies.ehloTls : this.limits.replies.ehlo;
  }

  /** RFC 3207 §4: 220 then the handshake (`starttls.ts`); afterwards the session starts over (§4.2: EHLO again). */
  #starttls(args: string): void {
    const refused = this.#tls.refusal(args, this.secure);
    if (refused !== undefined) return this.#reply(refused);
    this.#decide(() => this.handler.starttls?.(this), REPLIES.readyTls, (reply) => {
      if (reply.code === 220) this.#tls.upgrade(this.#conn.socket, this.#upgradable);
    });
  }

  /** The session as STARTTLS re-attaches it: reader and handler stay, the socket changes. */
  readonly #upgradable: Upgradable = {
    gone: () => this.#faults.gone,
    detach: () => {
      this.#reader.discard();
      this.#conn.detach();
    },
    attach: (secure) => this.#conn.attach(secure),
    restart: () => {
      this.secure = true;
      this.#resetTransaction();
      this.helo = undefined;
      this.state = 'fresh';
      this.#reader.next();
    },
  };

  #mail(args: string): void {
    const from = parsePath(args, 'FROM');
    if (from === undefined) return this.#reply(REPLIES.badPath);
    const utf8 = mailParameters(from, this.limits.size);
    if (typeof utf8 !== 'boolean') return this.#reply(utf8);
    if (!utf8 && !isAscii(from.address)) return this.#reply(REPLIES.nonAscii);
    this.#decide(() => this.handler.mail?.(this, from), REPLIES.sender, (reply) => {
      if (reply.code >= 300) return;
      this.mailFrom = from;
      this.#utf8 = utf8;
      this.state = 'mail';
    });
  }

  #rcpt(args: string): void {
    const to = parsePath(args, 'TO');
    if (to === undefined) return this.#reply(REPLIES.badPath);
    if (to.params.size > 0) return this.#reply(REPLIES.unknownParameter);
    if (!this.#utf8 && !isAscii(to.address)) return this.#reply(REPLIES.nonAscii);
    if (this.rcptTo.length >= this.limits.maxRecipients) return this.#reply(REPLIES.tooManyRecipients);
    this.#decide(() => this.handler.rcpt?.(this, to), REPLIES.recipient, (reply) => {
      if (reply.code >= 300) return;
      this.rcptTo.push(to.address);
      this.state = 'rcpt';
    });
  }

  #chunk(chunk: Buffer): void {
    if (this.#faults.gone) return; // cut: the rest of what the reader holds is nobody's
    if (this.#faults.cutting(chunk.length)) return;
    this.#intake.push(chunk);
  }

  #dataEnd(size: number, overflow: boolean): void {
    // Cut in this very read: the message's end was in the same chunk, but the connection is gone.
    if (this.#faults.gone) return;
    if (this.#faults.cutAtEnd()) return; // the message was shorter than the cut
    this.state = 'ready';
    const finish = () => {
      if (this.#intake.failed) return this.#reply(REPLIES.localError, false, () => this.#resetTransaction());
      if (overflow) return this.#reply(REPLIES.tooBig, false, () => this.#resetTransaction()); // nothing handed to message()
      this.#decide(() => this.handler.message?.(this, size), REPLIES.queued, () => this.#resetTransaction());
    };
    this.#intake.settled(finish);
  }

  /** Asks the handler, settles its decision (synchronously when it is not a promise), then replies. */
  #decide(ask: () => Decision, fallback: Reply, then: (reply: Reply) => void): void {
    let decision: Decision;
    try {
      decision = ask();
    } catch (err) {
      this.report(err, this); // a handler that throws gets its client a 451, and its server an error event
      return this.#reply(REPLIES.localError);
    }
    if (!isThenable<Action | undefined>(decision)) return this.#act(decision, fallback, then);
    decision.then(
      (action) => this.#corked(() => this.#act(action, fallback, then)),
      (err: unknown) => { this.report(err, this); this.#corked(() => this.#reply(REPLIES.localError)); },
    );
  }

  /** Performs `action` (`undefined`: `fallback`, the engine's reply); `then` follows a reply that went out. */
  #act(action: Action | undefined, fallback: Reply, then: (reply: Reply) => void): void {
    if (action?.kind === 'hang') return this.#faults.hang(action.closeAfter); // the reader stays busy
    if (action?.kind === 'tls-fail') return this.#reply(REPLIES.readyTls, false, () => { this.#tls.pending = 'abort'; });
    if (action !== undefined && action.kind !== 'reply' && action.afterBytes !== undefined && fallback === REPLIES.startData) {
      // A cut mid-message: the client is invited to send it, and loses the connection part-way.
      this.#faults.cutAfter(action);
      return this.#reply(fallback, false, () => then(fallback));
    }
    this.#faults.later(action?.delay ?? 0, action === undefined || action.kind === 'reply'
      ? () => {
        const reply = action?.reply ?? fallback;
        if (action?.bytesPerSecond !== undefined) this.#faults.throttle(action.bytesPerSecond);
        this.#reply(reply, false, () => then(reply));
      }
      : () => this.#faults.drop(action.kind));
  }

  /** Writes a reply; `421` (§3.8) and QUIT's `221` close the connection, anything else reads on. */
  #reply(reply: Reply, quit = false, apply?: () => void): void {
    if (this.#faults.gone) return;
    let wire: string;
    try {
      wire = wireOf(reply);
    } catch (err) {
      this.report(err, this); // a handler's reply that cannot go on the wire: say so, answer 451
      return this.#reply(REPLIES.localError, quit);
    }
    const closes = quit || reply.code === 421;
    this.#faults.write(wire, closes, () => this.#replied(closes, apply));
  }

  /** After a reply went out: `421` and QUIT close, anything else reads on. */
  #replied(closes: boolean, apply: (() => void) | undefined): void {
    if (closes) return this.#faults.close();
    if (this.#faults.gone) return;
    apply?.();
    if (this.#tls.pending !== undefined) return; // nothing is read in clear after STARTTLS's 220
    if (this.#closing && this.state !== 'data') return this.#reply(REPLIES.shuttingDown);
    this.#reader.next();
  }

  #resetTransaction(): void {
    this.mailFrom = undefined;
    this.rcptTo = [];
    this.#utf8 = false;
    this.#intake.failed = false;
    if (this.state === 'mail' || this.state === 'rcpt') this.state = 'ready';
  }

  #corked(fn: () => void): void {
    this.#conn.corked(fn);
  }

  #end(): void {
    this.#faults.end();
    try {
      this.handler.close?.(this);
    } catch (err) {
      this.report(err, this);
    }
  }
}
