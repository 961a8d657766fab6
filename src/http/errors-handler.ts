/**
 * `createErrorsHandler`: MailerQ's `/v1/errors` REST API over `node:http`, usable as a plain request
 * listener, as Express/Connect middleware, and from Fastify.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { EventEmitter } from 'eventemitter3';
import { type Interceptor, type Rule, type RuleInput, ValidationError } from '../index.js';
import { errorResponse, HttpError, sendJson as send } from './api-error.js';
import { authenticate, credentials, type TokenOptions } from './auth.js';
import { parseBody, parseForm, readBody } from './body.js';
import { listRules } from './list-route.js';
import { requestIdOf } from './request-id.js';

/** Options of {@link createErrorsHandler}. */
export interface ErrorsHandlerOptions {
  /** Accepted bearer tokens. Required unless `auth: false`. */
  tokens?: readonly (string | TokenOptions)[];
  /** Set to `false` to serve without authentication (tests, loopback-only tools). Exclusive with `tokens`. */
  auth?: false;
  /** Path the API is served under. @default '/v1/errors' */
  basePath?: string;
  /** Largest accepted request body. @default 65536 */
  maxBodyBytes?: number;
}

/** One handled request, for access logs. */
export interface RequestLog {
  method: string;
  path: string;
  status: number;
  /** Name of the token used, if one was accepted. */
  tokenName: string | undefined;
  requestId: string;
  durationMs: number;
}

/** Events of an {@link ErrorsHandler}. */
export interface ErrorsHandlerEvents {
  /** Emitted when a response has been sent. */
  request: (log: RequestLog) => void;
  /** Emitted for an unexpected failure (answered with a 500 that does not show it). */
  error: (err: unknown, requestId: string) => void;
}

/** A request listener / middleware that also emits {@link ErrorsHandlerEvents}. */
export interface ErrorsHandler {
  (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): void;
  on<E extends keyof ErrorsHandlerEvents>(event: E, listener: ErrorsHandlerEvents[E]): this;
  off<E extends keyof ErrorsHandlerEvents>(event: E, listener: ErrorsHandlerEvents[E]): this;
}

const RULE_ID = /^[0-9a-f]{20}$/;
const ALLOW_COLLECTION = 'GET, HEAD, POST, DELETE';
const ALLOW_ITEM = 'GET, HEAD, DELETE';

function options(opts: ErrorsHandlerOptions): { creds: ReturnType<typeof credentials> | undefined; basePath: string; maxBodyBytes: number } {
  const { tokens, auth, basePath = '/v1/errors', maxBodyBytes = 65_536 } = opts;
  const problem = (param: string, message: string) => new ValidationError([{ code: 'invalid_option', message, param }]);
  if (auth !== undefined && auth !== false) throw problem('auth', 'auth may only be false (to serve without tokens)');
  if (auth === false && tokens !== undefined) throw problem('tokens', 'tokens and auth: false may not be used together');
  if (auth !== false && (tokens === undefined || tokens.length === 0)) {
    throw problem('tokens', 'give at least one token, or pass auth: false to serve the API without authentication');
  }
  if (!/^\/[^?#]*[^/?#]$/.test(basePath)) throw problem('basePath', 'basePath must start with "/" and not end with "/"');
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 1) throw problem('maxBodyBytes', 'maxBodyBytes must be a positive integer');
  return { creds: tokens && credentials(tokens), basePath, maxBodyBytes };
}

/**
 * Creates the `/v1/errors` handler for an interceptor.
 *
 * @example
 * ```ts
 * const handler = createErrorsHandler(ic, { tokens: [process.env.API_TOKEN!] })
 * handler.on('request', (log) => console.log(log.method, log.path, log.status, log.durationMs))
 * // Bound slow clients: Node's defaults let a request trickle in for 300 s, checked every 30 s.
 * const server = http.createServer({ requestTimeout: 10_000, headersTimeout: 10_000, connectionsCheckingInterval: 1000 }, handler)
 * server.maxConnections = 256
 * server.listen(8025, '127.0.0.1')
 * ```
 */
export function createErrorsHandler(interceptor: Interceptor, opts: ErrorsHandlerOptions): ErrorsHandler {
  const { creds, basePath, maxBodyBytes } = options(opts);
  const events = new EventEmitter<ErrorsHandlerEvents>();

  async function route(req: IncomingMessage, res: ServerResponse, path: string, query: string, requestId: string, log: { tokenName?: string }): Promise<void> {
    const rest = path.slice(basePath.length);
    const method = req.method === 'HEAD' ? 'GET' : req.method ?? '';
    let id: string | undefined;
    if (rest.length > 1) {
      let decoded = '';
      try { decoded = decodeURIComponent(rest.slice(1)); } catch { /* not an id */ }
      if (!RULE_ID.test(decoded)) throw new HttpError(404, 'not_found_error', 'not_found', `no rule with id "${rest.slice(1)}"`);
      id = decoded;
    }
    const allow = id === undefined ? ALLOW_COLLECTION : ALLOW_ITEM;
    if (!allow.split(', ').includes(method)) {
      throw new HttpError(405, 'validation_error', 'method_not_allowed', `${req.method ?? ''} is not allowed on ${path}; allowed: ${allow}`, { allow });
    }
    if (creds) {
      const cred = authenticate(creds, req.headers.authorization);
      log.tokenName = cred.name;
      if (method !== 'GET' && cred.scope !== 'write') {
        throw new HttpError(403, 'authorization_error', 'insufficient_scope', `token "${cred.name}" may only read; ${method} needs a write token`);
      }
    }
    if (method === 'GET') {
      if (id !== undefined) {
        const rule = interceptor.get(id);
        if (!rule) throw new HttpError(404, 'not_found_error', 'not_found', `no rule with id "${id}"`);
        return send(res, 200, rule, { 'x-request-id': requestId });
      }
      const { rules, headers } = listRules(interceptor, query, basePath);
      return send(res, 200, rules, { ...headers, 'x-request-id': requestId });
    }
    const raw = await readBody(req, maxBodyBytes);
    // Some clients label an empty DELETE body as JSON: an empty body is no body.
    const body = method === 'DELETE' && raw.length === 0 ? undefined : parseBody(raw, req.headers['content-type']);
    if (method === 'POST') {
      // 201 when the rule was new, 200 for an update: the rule this add installs is announced as added
      // or updated while the add is in flight. Asking `get(idOf(body))` first would validate and hash
      // the body twice (measured: a tenth of a POST). Listening only meanwhile keeps no listener behind.
      const added = new Set<Rule>();
      const onAdded = (rule: Rule) => added.add(rule);
      interceptor.on('rule:added', onAdded);
      let rule: Rule;
      try {
        rule = await interceptor.add(body as RuleInput);
      } finally {
        interceptor.off('rule:added', onAdded);
      }
      return added.has(rule)
        ? send(res, 201, rule, { 'x-request-id': requestId, location: `${basePath}/${rule.id}` })
        : send(res, 200, rule, { 'x-request-id': requestId });
    }
    // DELETE
    let removed;
    if (id !== undefined) {
      removed = await interceptor.remove(id);
    } else {
      const fromQuery = parseForm(query);
      if (body !== undefined && Object.keys(fromQuery).length > 0) {
        throw new HttpError(400, 'validation_error', 'invalid_request', 'give the selector in the body or in the query string, not both');
      }
      removed = await interceptor.remove((body ?? fromQuery) as RuleInput);
    }
    if (!removed) throw new HttpError(404, 'not_found_error', 'not_found', 'no rule matches that selector');
    return send(res, 200, removed, { 'x-request-id': requestId });
  }

  const handler = ((req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): void => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const inside = path === basePath || path === `${basePath}/` || (path.startsWith(`${basePath}/`) && !path.slice(basePath.length + 1).includes('/'));
    if (!inside && next && !path.startsWith(`${basePath}/`)) return next();
    const started = performance.now();
    const requestId = requestIdOf(req);
    const log: { tokenName?: string } = {};
    res.once('close', () => {
      if (events.listenerCount('request') === 0) return;
      events.emit('request', { method: req.method ?? '', path, status: res.statusCode, tokenName: log.tokenName, requestId, durationMs: performance.now() - started });
    });
    const fail = (err: unknown) => {
      const { status, headers, body } = errorResponse(err, requestId);
      if (status >= 500 && status !== 503) events.emit('error', err, requestId);
      if (res.headersSent) { res.destroy(); return; }
      send(res, status, body, { ...headers, 'x-request-id': requestId });
    };
    if (!inside) return fail(new HttpError(404, 'not_found_error', 'not_found', `no such resource: ${path}`));
    route(req, res, path === `${basePath}/` ? basePath : path, q === -1 ? '' : url.slice(q + 1), requestId, log).catch(fail);
  }) as ErrorsHandler;
  handler.on = (event, listener) => { events.on(event, listener as never); return handler; };
  handler.off = (event, listener) => { events.off(event, listener as never); return handler; };
  return handler;
}
