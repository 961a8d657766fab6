/**
 * `smtp-intercept serve`: a standalone fake MX with rules, for any language's test suite. One
 * interceptor (rules persisted by a FileStore) behind an SMTP server and the REST API, plus
 * `GET /v1/attempts` (recent attempts and their outcomes) and `GET /v1/messages` (accepted mail).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createFakeMx, type AcceptedMessage, type FakeMx } from '../testing/fake-mx.js';
import { errorResponse, HttpError, sendJson } from '../http/api-error.js';
import { authenticate, credentials } from '../http/auth.js';
import { createErrorsHandler } from '../http/index.js';
import { type ForcedResult, Interceptor } from '../index.js';
import { FileStore } from '../stores/file.js';

/** Settings of a running `serve`. */
export interface ServeOptions {
  host: string;
  smtpPort: number;
  httpPort: number;
  rules: string;
  token: string;
  /** How many recent attempts and messages the API keeps. */
  keep: number;
  /** Offer STARTTLS: `true` with the bundled test certificate, or your PEM key and certificate. */
  tls?: true | { key: string | Buffer; cert: string | Buffer } | undefined;
}

/** A running `serve`. */
export interface Served {
  smtp: { host: string; port: number };
  http: { host: string; port: number };
  close(): Promise<void>;
}

/** Starts the fake MX and the API; rejects with a clear error (busy port, unreadable rule file). */
export async function serve(options: ServeOptions): Promise<Served> {
  const store = new FileStore(options.rules);
  const interceptor = new Interceptor({ store });
  await interceptor.ready();
  // The last `keep` attempts, oldest first (a bounded log, not the unbounded recorder).
  const recent: { at: number; attempt: unknown; result: ForcedResult | undefined }[] = [];
  const stopObserving = interceptor.observe((attempt, result) => {
    recent.push({ at: Date.now(), attempt: { ...attempt }, result });
    if (recent.length > options.keep) recent.shift();
  });
  const messages: AcceptedMessage[] = [];
  let mx: FakeMx;
  try {
    mx = await createFakeMx({
      interceptor, host: options.host, port: options.smtpPort, ...(options.tls === undefined ? {} : { tls: options.tls }),
      onMessage: (m) => { messages.push(m); if (messages.length > options.keep) messages.shift(); },
    });
  } catch (err) {
    await interceptor.close();
    throw describeListenError(err, options.host, options.smtpPort, '--smtp-port');
  }
  const errors = createErrorsHandler(interceptor, { tokens: [{ token: options.token, name: 'cli' }] });
  const creds = credentials([options.token]);
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/v1/attempts' || path === '/v1/messages') {
      const requestId = randomBytes(8).toString('hex');
      try {
        if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'validation_error', 'method_not_allowed', `${req.method ?? ''} is not allowed on ${path}; allowed: GET`, { allow: 'GET, HEAD' });
        authenticate(creds, req.headers.authorization);
        if (path === '/v1/attempts') {
          const attempts = recent.map((a) => ({
            at: new Date(a.at).toISOString(), attempt: a.attempt, forced: a.result !== undefined, rule: a.result?.rule.id, reply: a.result?.reply, fault: a.result?.fault?.kind, outcome: a.result?.outcome ?? 'passed',
          }));
          return sendJson(res, 200, attempts, { 'x-request-id': requestId });
        }
        return sendJson(res, 200, messages.map((m) => ({
          session: m.session, receivedAt: new Date(m.receivedAt).toISOString(), envelope: m.envelope, headers: m.headers, raw: m.raw.toString('utf8'),
        })), { 'x-request-id': requestId });
      } catch (err) {
        const { status, headers, body } = errorResponse(err, requestId);
        return sendJson(res, status, body, { ...headers, 'x-request-id': requestId });
      }
    }
    return errors(req, res);
  };
  const http: Server = createServer(listener);
  try {
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(options.httpPort, options.host, () => { http.off('error', reject); resolve(); });
    });
  } catch (err) {
    await mx.close();
    await interceptor.close();
    throw describeListenError(err, options.host, options.httpPort, '--http-port');
  }
  return {
    smtp: { host: options.host, port: mx.port },
    http: { host: options.host, port: (http.address() as AddressInfo).port },
    async close() {
      stopObserving();
      http.closeAllConnections();
      await Promise.all([mx.close(), new Promise<void>((resolve) => http.close(() => resolve()))]);
      await interceptor.close(); // waits for rule writes in flight
      await store.close();
    },
  };
}

function describeListenError(err: unknown, host: string, port: number, flag: string): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') return new Error(`port ${port} on ${host} is already in use; choose another with ${flag} (0 picks a free one)`);
  if (code === 'EACCES') return new Error(`not allowed to listen on ${host}:${port}; choose a port above 1024 with ${flag}`);
  return err instanceof Error ? err : new Error(String(err));
}

/** A random API token for when none is given. */
export function generateToken(): string {
  return randomBytes(24).toString('base64url');
}
