/**
 * `serve`'s read-only endpoints beside `/v1/errors`: `GET /v1/attempts` (the attempt log) and
 * `GET /v1/messages[/:id[/raw]]` (the fake MX's message store, paginated). Same authentication,
 * request ids and error shape as `/v1/errors`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AcceptedMessage } from '../adapters/message.js';
import { errorResponse, HttpError, sendJson } from '../http/api-error.js';
import { authenticate, credentials } from '../http/auth.js';
import { requestIdOf } from '../http/request-id.js';
import type { MessageStore, StoredMessage } from '../testing/message-store.js';
import type { AttemptLog } from './attempt-log.js';

/** Page sizes of `GET /v1/messages`. */
export const PAGE = Object.freeze({ default: 100, max: 1000 });
// A page also ends once its JSON passes this size, so one listing never serialises for long
// (headers are the sender's: a message may carry far more of them than usual).
const PAGE_BYTES = 1024 * 1024;
const MESSAGE_PATH = /^\/v1\/messages\/([^/]+)(\/raw)?$/;

function summary(stored: StoredMessage<AcceptedMessage>): object {
  const m = stored.message;
  return { id: stored.id, session: m.session, receivedAt: new Date(m.receivedAt).toISOString(), size: m.raw.length, envelope: m.envelope, headers: m.headers };
}

function positive(params: URLSearchParams, name: string, fallback: number, max: number): number {
  const text = params.get(name);
  if (text === null) return fallback;
  const n = Number(text);
  if (!/^\d{1,7}$/.test(text) || n < 1 || n > max) {
    throw new HttpError(400, 'validation_error', 'invalid_parameter', `${name} must be an integer from 1 to ${max} (got "${text}")`, {}, name);
  }
  return n;
}

function listMessages(res: ServerResponse, store: MessageStore<AcceptedMessage>, query: URLSearchParams, headers: Record<string, string>): void {
  const limit = positive(query, 'limit', PAGE.default, PAGE.max);
  const after = query.get('after') ?? undefined;
  if (after !== undefined && !/^(0|[1-9]\d{0,15})$/.test(after)) {
    throw new HttpError(400, 'validation_error', 'invalid_parameter', `after must be a message id, as in a listing's "next" (got "${after}")`, {}, 'after');
  }
  const page = store.page(after, limit);
  const parts: string[] = [];
  let bytes = 0;
  let next = page.next;
  for (const stored of page.items) {
    if (bytes >= PAGE_BYTES) { next = page.items[parts.length - 1]!.id; break; }
    const json = JSON.stringify(summary(stored));
    parts.push(json);
    bytes += json.length;
  }
  const body = `{"messages":[${parts.join(',')}],"next":${JSON.stringify(next)}}`;
  res.writeHead(200, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

function oneMessage(res: ServerResponse, store: MessageStore<AcceptedMessage>, id: string, raw: boolean, headers: Record<string, string>): void {
  const stored = store.get(id);
  if (!stored) throw new HttpError(404, 'not_found_error', 'not_found', `no message with id "${id}" (never accepted, or evicted by the store's limits)`);
  if (!raw) return sendJson(res, 200, summary(stored), headers);
  // The bytes as received; `end` hands the buffer to the socket, which drains it without blocking.
  res.writeHead(200, { ...headers, 'content-type': 'message/rfc822', 'content-length': stored.message.raw.length, 'cache-control': 'no-store' });
  res.end(stored.message.raw);
}

/** Options of {@link createRecordsHandler}. */
export interface RecordsHandlerOptions {
  token: string;
  attempts: AttemptLog;
  messages: MessageStore<AcceptedMessage>;
}

/**
 * A request listener for `/v1/attempts` and `/v1/messages...`; returns `false` (without answering)
 * for any other path.
 *
 * @example
 * ```ts
 * const records = createRecordsHandler({ token, attempts: new AttemptLog(ic, 1000), messages: mx.store })
 * createServer((req, res) => { if (!records(req, res)) errors(req, res) })
 * ```
 */
export function createRecordsHandler(options: RecordsHandlerOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const creds = credentials([options.token]);
  return (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const item = MESSAGE_PATH.exec(path);
    if (path !== '/v1/attempts' && path !== '/v1/messages' && !item) return false;
    const requestId = requestIdOf(req);
    const headers = { 'x-request-id': requestId };
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'validation_error', 'method_not_allowed', `${req.method ?? ''} is not allowed on ${path}; allowed: GET`, { allow: 'GET, HEAD' });
      authenticate(creds, req.headers.authorization);
      if (path === '/v1/attempts') sendJson(res, 200, options.attempts.entries(), headers);
      else if (item) oneMessage(res, options.messages, item[1]!, item[2] !== undefined, headers);
      else listMessages(res, options.messages, new URLSearchParams(q === -1 ? '' : url.slice(q + 1)), headers);
    } catch (err) {
      const { status, headers: extra, body } = errorResponse(err, requestId);
      sendJson(res, status, body, { ...extra, ...headers });
    }
    return true;
  };
}
