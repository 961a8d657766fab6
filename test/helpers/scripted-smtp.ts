// A minimal SMTP server over node:net that sends exactly the reply lines a test gives it, multi-line
// replies included: the real peer nodemailer reads, independent of the rule engine and of smtp-server.
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';

/** Wire lines (without CRLF) of one reply, e.g. `['550-5.1.1 first', '550 5.1.1 second']`. */
export type Lines = readonly string[];

export interface Script {
  greeting?: Lines;
  mail?: Lines;
  /** The reply to `RCPT TO:<address>`; undefined accepts. */
  rcpt?: (address: string) => Lines | undefined;
  /** The reply after the message's final dot. */
  data?: Lines;
  /**
   * STARTTLS: whether EHLO offers it, and the reply to it (lines, or `abort`: `220`, then the
   * connection is closed on the client's first handshake bytes). Unset: not offered, answered 502.
   */
  starttls?: { offer: boolean; reply: Lines | 'abort' };
}

export interface ScriptedSmtp {
  host: string;
  port: number;
  /** Recipients of each message received in full. */
  readonly messages: string[][];
  close(): Promise<void>;
}

const OK: Lines = ['250 2.0.0 ok'];

export async function scriptedSmtp(script: Script = {}): Promise<ScriptedSmtp> {
  const messages: string[][] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const send = (lines: Lines) => socket.write(lines.map((l) => `${l}\r\n`).join(''));
    let buffer = '';
    let inData = false;
    let rcpts: string[] = [];
    const greeting = script.greeting ?? ['220 scripted ESMTP'];
    send(greeting);
    // RFC 5321 §3.1: after a 554 greeting the server answers 503 until QUIT.
    const refused = greeting.at(-1)!.startsWith('554');
    let aborting = false;
    socket.on('data', (chunk: Buffer) => {
      if (aborting) { socket.end(); return; }
      buffer += chunk.toString('latin1');
      for (let end = buffer.indexOf('\r\n'); end !== -1; end = buffer.indexOf('\r\n')) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (inData) {
          if (line !== '.') continue;
          inData = false;
          messages.push(rcpts);
          send(script.data ?? OK);
          continue;
        }
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'QUIT') { send(['221 2.0.0 bye']); socket.end(); return; }
        if (refused) { send(['503 5.5.1 no service']); continue; }
        if (verb === 'EHLO' || verb === 'HELO') send(script.starttls?.offer === true ? ['250-scripted', '250-8BITMIME', '250 STARTTLS'] : ['250-scripted', '250 8BITMIME']);
        else if (line.toUpperCase() === 'STARTTLS' && script.starttls !== undefined) {
          const reply = script.starttls.reply;
          send(reply === 'abort' ? ['220 2.0.0 Ready to start TLS'] : reply);
          if (reply === 'abort') { aborting = true; return; }
        }
        else if (verb === 'MAIL') { rcpts = []; send(script.mail ?? OK); }
        else if (verb === 'RCPT') {
          const address = /<([^>]*)>/.exec(line)?.[1] ?? '';
          const reply = script.rcpt?.(address);
          if (reply === undefined) rcpts.push(address);
          send(reply ?? OK);
        } else if (verb === 'DATA') { inData = true; send(['354 go ahead']); }
        else if (verb === 'RSET' || verb === 'NOOP') send(OK);
        else send(['502 5.5.2 not implemented']);
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    host: '127.0.0.1',
    port,
    messages,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
