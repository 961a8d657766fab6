/**
 * `serve`'s routes for looking at what happens: the dashboard page at `/`, Prometheus metrics at
 * `GET /metrics`, and live attempts at `GET /v1/attempts/stream`. The page is the only thing served
 * without the token (it holds no data; it asks for the token and sends it on every API call).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorResponse, HttpError, sendJson } from '../http/api-error.js';
import { authenticate, credentials } from '../http/auth.js';
import type { Interceptor } from '../index.js';
import { MetricsCollector } from '../metrics/collector.js';
import { PROMETHEUS_CONTENT_TYPE, prometheusText } from '../metrics/exposition.js';
import { DASHBOARD_HTML, DASHBOARD_SCRIPT_SHA256, DASHBOARD_STYLE_SHA256 } from './dashboard-assets.js';
import { LIVE_LIMITS, LiveAttempts } from './live-attempts.js';

const PAGE_BYTES = Buffer.byteLength(DASHBOARD_HTML);
const PAGE_HEADERS = Object.freeze({
  'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store',
  // Nothing runs but the page's own inline script and style, and it talks only to this server.
  'content-security-policy': `default-src 'none'; script-src 'sha256-${DASHBOARD_SCRIPT_SHA256}'; style-src 'sha256-${DASHBOARD_STYLE_SHA256}'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
  'referrer-policy': 'no-referrer', 'x-content-type-options': 'nosniff',
});

/** Options of {@link createObserveRoutes}. */
export interface ObserveRoutesOptions {
  interceptor: Interceptor;
  token: string;
  /** Serve `GET /metrics` without the token (for a Prometheus server that has none). @default false */
  metricsPublic?: boolean;
}

/** The routes' request listener (`false`: not one of its paths) and what it holds open. */
export interface ObserveRoutes {
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  close(): void;
}

/**
 * Creates the dashboard, metrics and live-attempt routes of one interceptor.
 *
 * @example
 * ```ts
 * const routes = createObserveRoutes({ interceptor, token })
 * createServer((req, res) => { if (!routes.handle(req, res)) errors(req, res) })
 * ```
 */
export function createObserveRoutes(options: ObserveRoutesOptions): ObserveRoutes {
  const creds = credentials([options.token]);
  const metrics = new MetricsCollector(options.interceptor);
  const live = new LiveAttempts(options.interceptor);
  const handle = (req: IncomingMessage, res: ServerResponse): boolean => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (path !== '/' && path !== '/metrics' && path !== '/v1/attempts/stream') return false;
    const requestId = randomBytes(8).toString('hex');
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'validation_error', 'method_not_allowed', `${req.method ?? ''} is not allowed on ${path}; allowed: GET`, { allow: 'GET, HEAD' });
      if (path === '/') {
        res.writeHead(200, { ...PAGE_HEADERS, 'content-length': PAGE_BYTES });
        res.end(req.method === 'HEAD' ? undefined : DASHBOARD_HTML);
        return true;
      }
      if (path === '/metrics') {
        if (!options.metricsPublic) authenticate(creds, req.headers.authorization);
        const body = prometheusText(metrics.collect());
        res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', 'x-request-id': requestId });
        res.end(req.method === 'HEAD' ? undefined : body);
        return true;
      }
      // A stream has no end for HEAD to describe.
      if (req.method !== 'GET') throw new HttpError(405, 'validation_error', 'method_not_allowed', `${req.method ?? ''} is not allowed on ${path}; allowed: GET`, { allow: 'GET' });
      authenticate(creds, req.headers.authorization);
      if (!live.open(res, { 'x-request-id': requestId })) {
        throw new HttpError(503, 'api_error', 'too_many_streams', `at most ${LIVE_LIMITS.streams} live attempt streams may be open; close one (a dashboard tab) and retry`, { 'retry-after': '5' });
      }
    } catch (err) {
      const { status, headers, body } = errorResponse(err, requestId);
      sendJson(res, status, body, { ...headers, 'x-request-id': requestId });
    }
    return true;
  };
  return { handle, close: () => { live.close(); metrics.close(); } };
}
