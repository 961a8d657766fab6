/**
 * `smtp-intercept serve`: a standalone fake MX with rules, for any language's test suite. One
 * interceptor (rules persisted by a FileStore) behind an SMTP server and the REST API, plus
 * `GET /v1/attempts` and `GET /v1/messages` (records-api.ts).
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, resolve } from 'node:path';
import { createFakeMx, type FakeMx } from '../testing/fake-mx.js';
import { createErrorsHandler } from '../http/index.js';
import { Interceptor } from '../index.js';
import { FileStore } from '../stores/file.js';
import { AttemptLog } from './attempt-log.js';
import { createObserveRoutes } from './observe-routes.js';
import { createRecordsHandler } from './records-api.js';

/** Settings of a running `serve`, validated by `parseServeArgs`. */
export interface ServeOptions {
  host: string;
  smtpPort: number;
  httpPort: number;
  rules: string;
  token: string;
  /** Budgets of the kept accepted messages (count, raw bytes). */
  maxMessages: number;
  maxStoredBytes: number;
  /** Milliseconds a client has to send a whole request, headers included. */
  requestTimeout: number;
  /** Most open HTTP connections; more are refused. */
  maxConnections: number;
  /** Serve `GET /metrics` without the token. @default false */
  metricsPublic?: boolean;
  /** The MX host name to play: said in the greeting and given to rules as the attempts' `mx`. */
  hostname?: string;
  /** Offer STARTTLS: `true` with the bundled test certificate, or your PEM key and certificate. */
  tls?: true | { key: string | Buffer; cert: string | Buffer } | undefined;
}

/** A running `serve`. */
export interface Served {
  smtp: { host: string; port: number };
  http: { host: string; port: number };
  close(): Promise<void>;
}

/** How many recent attempts `GET /v1/attempts` returns. */
export const ATTEMPTS_KEPT = 1000;
// The fake MX's own default; the byte budget lowers it so that an accepted message can always be kept.
const MESSAGE_SIZE = 10 * 1024 * 1024;

/**
 * Starts the fake MX and the API. On any failure (unusable rule file or directory, busy port) it
 * closes whatever it started, then rejects with an error naming the cause.
 */
export async function serve(options: ServeOptions): Promise<Served> {
  // Everything that can refuse its configuration is built before anything is started.
  // A torn last line recovered at load is said like every other message, not as a Node process warning.
  const store = new ReportingFileStore(options.rules, { onWarning: say });
  const interceptor = new Interceptor({ store });
  const errors = createErrorsHandler(interceptor, { tokens: [{ token: options.token, name: 'cli' }] });
  interceptor.on('error', (err) => say(`rule engine: ${(err as Error).message}`));
  errors.on('error', (err, requestId) => say(`request ${requestId}: ${(err as Error).stack ?? String(err)}`));
  // Closed in reverse: the interceptor (waiting for rule writes in flight) before its store.
  const started: (() => Promise<void> | void)[] = [() => store.close(), () => interceptor.close()];
  const stop = async () => { for (const close of started.splice(0).reverse()) await close(); };
  try {
    await rulesDirectory(options.rules);
    await interceptor.ready();
    const attempts = new AttemptLog(interceptor, ATTEMPTS_KEPT);
    started.push(() => attempts.close());

    let mx: FakeMx;
    try {
      mx = await createFakeMx({
        interceptor, host: options.host, port: options.smtpPort,
        size: Math.min(MESSAGE_SIZE, options.maxStoredBytes), maxMessages: options.maxMessages, maxStoredBytes: options.maxStoredBytes,
        ...(options.hostname === undefined ? {} : { hostname: options.hostname }),
        ...(options.tls === undefined ? {} : { tls: options.tls }),
      });
    } catch (err) {
      throw describeListenError(err, options.host, options.smtpPort, '--smtp-port');
    }
    started.push(() => mx.close());

    const records = createRecordsHandler({ token: options.token, attempts, messages: mx.store });
    const observe = createObserveRoutes({ interceptor, token: options.token, metricsPublic: options.metricsPublic ?? false });
    let observing = true;
    const stopObserving = () => { if (observing) { observing = false; observe.close(); } };
    started.push(stopObserving);
    const http = httpServer((req, res) => { if (!observe.handle(req, res) && !records(req, res)) errors(req, res); }, options);
    try {
      await new Promise<void>((done, reject) => {
        http.once('error', reject);
        http.listen(options.httpPort, options.host, () => { http.off('error', reject); done(); });
      });
    } catch (err) {
      throw describeListenError(err, options.host, options.httpPort, '--http-port');
    }
    started.push(() => new Promise<void>((done) => {
      stopObserving(); // ends the live streams cleanly first: they would keep the server open
      http.close(() => done());
      http.closeAllConnections();
    }));
    return {
      smtp: { host: options.host, port: mx.port },
      http: { host: options.host, port: (http.address() as AddressInfo).port },
      close: stop, // rule writes in flight finish in interceptor.close()
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * The API's server with bounds a trickling client cannot outlast: Node's defaults let a request take
 * 300 s and check only every 30 s, so 20 sockets sending a byte at a time stayed open past 130 s.
 */
function httpServer(listener: (req: IncomingMessage, res: ServerResponse) => void, options: ServeOptions): Server {
  const http = createServer({
    requestTimeout: options.requestTimeout,
    headersTimeout: options.requestTimeout,
    connectionsCheckingInterval: Math.min(1000, options.requestTimeout),
  }, listener);
  http.maxConnections = options.maxConnections;
  return http;
}

// Failures go to stderr: a client sees only a 5xx and a request id, and a rule file that could not be
// written (a deleted directory, a full disk) answered 503 with nothing said anywhere.
const say = (line: string) => { process.stderr.write(`smtp-intercept: ${line.replace(/[\r\n]+/g, ' ')}\n`); };

/** The FileStore, saying on stderr why a write failed (the API answers it with a 503). */
class ReportingFileStore extends FileStore {
  override put(...args: Parameters<FileStore['put']>): Promise<void> { return this.#said(super.put(...args)); }
  override delete(...args: Parameters<FileStore['delete']>): Promise<void> { return this.#said(super.delete(...args)); }
  override clear(): Promise<void> { return this.#said(super.clear()); }
  #said(write: Promise<void>): Promise<void> {
    return write.catch((err: unknown) => {
      const message = (err as Error).message;
      say(message.includes(this.path) ? message : `cannot write the rule file "${this.path}": ${message}`);
      throw err;
    });
  }
}

/**
 * Creates the rule file's directory and checks that serve may write there, or fails naming the path:
 * a missing or read-only one started a server that answered every change with a 503. The directory
 * must be writable too: the first write, compactions and the migration of a 0.1.0 file write a
 * temporary file beside the rule file and rename it over.
 */
async function rulesDirectory(rules: string): Promise<void> {
  const dir = dirname(resolve(rules));
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw new Error(`cannot create the directory "${dir}" of the rule file --rules "${rules}": ${(err as Error).message}`);
  }
  try {
    await access(rules, constants.W_OK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot write the rule file --rules "${rules}": ${(err as Error).message}`);
  }
  try {
    await access(dir, constants.W_OK);
  } catch (err) {
    throw new Error(`cannot write in the directory "${dir}" of the rule file --rules "${rules}": ${(err as Error).message}`);
  }
}

function describeListenError(err: unknown, host: string, port: number, flag: string): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') return new Error(`port ${port} on ${host} is already in use; choose another with ${flag} (0 picks a free one)`);
  if (code === 'EACCES') return new Error(`not allowed to listen on ${host}:${port}; choose a port above 1024 with ${flag}`);
  if (code === 'EADDRNOTAVAIL') return new Error(`cannot listen on ${host}: no such local address; choose another with --host`);
  return err instanceof Error ? err : new Error(String(err));
}

/** A random API token for when none is given. */
export function generateToken(): string {
  return randomBytes(24).toString('base64url');
}
