/**
 * The REST API's error model: one `HttpError` class, and one function that turns anything thrown into
 * the single error body shape. Internals never leak: unknown errors become a generic `api_error`.
 */
import type { ServerResponse } from 'node:http';
import { type ErrorDetail, SmtpInterceptError, ValidationError } from '../index.js';

/** `type` of an error response; the client maps each to its own error class. */
export type ErrorType =
  | 'validation_error'
  | 'authentication_error'
  | 'authorization_error'
  | 'not_found_error'
  | 'payload_too_large_error'
  | 'rate_limit_error'
  | 'api_error';

/** The body of every error response. */
export interface ErrorBody {
  error: {
    type: ErrorType;
    code: string;
    message: string;
    param?: string;
    details?: readonly ErrorDetail[];
    request_id: string;
  };
}

/** An error with its HTTP status and response headers. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly type: ErrorType,
    readonly code: string,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
    readonly param?: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Status, headers and body for anything thrown while handling a request. */
export function errorResponse(err: unknown, requestId: string): { status: number; headers: Readonly<Record<string, string>>; body: ErrorBody } {
  if (err instanceof HttpError) {
    const body: ErrorBody = { error: { type: err.type, code: err.code, message: err.message, request_id: requestId } };
    if (err.param !== undefined) body.error.param = err.param;
    return { status: err.status, headers: err.headers, body };
  }
  if (err instanceof ValidationError) {
    const body: ErrorBody = { error: { type: 'validation_error', code: err.code, message: err.message, details: err.details, request_id: requestId } };
    if (err.param !== undefined) body.error.param = err.param;
    return { status: 400, headers: {}, body };
  }
  if (err instanceof SmtpInterceptError && (err.code === 'closed' || err.code === 'store_unavailable')) {
    // The engine cannot take changes right now; clients retry 503 with backoff.
    return { status: 503, headers: { 'retry-after': '1' }, body: { error: { type: 'api_error', code: 'unavailable', message: 'the rule engine is not accepting changes right now; retry later', request_id: requestId } } };
  }
  return { status: 500, headers: {}, body: { error: { type: 'api_error', code: 'internal_error', message: 'internal error; the request id identifies it in the server log', request_id: requestId } } };
}

/** @internal Sends a JSON response with the headers every API response carries. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}
