/**
 * Typed errors of the REST client, one class per error `type` of the API. Each carries the HTTP
 * `status`, the API's `code`, `message`, `param`, `details` and the `requestId` to quote in a report.
 */
import { type ErrorDetail, SmtpInterceptError, ValidationError as CoreValidationError } from '../index.js';

/** The fields every client error carries. */
export interface ApiErrorFields {
  /** HTTP status; 0 when no response arrived (network error, timeout). */
  readonly status: number;
  /** The API's error `type`, e.g. `not_found_error`. */
  readonly type: string;
  readonly code: string;
  readonly param: string | undefined;
  readonly details: readonly ErrorDetail[];
  /** `X-Request-Id` of the failed request. */
  readonly requestId: string | undefined;
}

interface Init {
  status: number;
  type: string;
  code: string;
  message: string;
  param?: string | undefined;
  details?: readonly ErrorDetail[] | undefined;
  requestId?: string | undefined;
  cause?: unknown;
}

/** Base of the client's non-validation errors. */
export class ApiError extends SmtpInterceptError implements ApiErrorFields {
  readonly status: number;
  readonly type: string;
  readonly param: string | undefined;
  readonly details: readonly ErrorDetail[];
  readonly requestId: string | undefined;

  constructor(init: Init) {
    super(init.code, init.message, { cause: init.cause });
    this.name = 'ApiError';
    this.status = init.status;
    this.type = init.type;
    this.param = init.param;
    this.details = init.details ?? [];
    this.requestId = init.requestId;
  }
}

/** 400, 405, 415: the request was rejected; `details` lists every field problem. Never retried. */
export class ValidationError extends CoreValidationError implements ApiErrorFields {
  readonly status: number;
  readonly requestId: string | undefined;

  constructor(init: Init) {
    super(init.details && init.details.length > 0 ? init.details : [{ code: init.code, message: init.message, ...(init.param === undefined ? {} : { param: init.param }) }]);
    this.name = 'ValidationError';
    this.status = init.status;
    this.requestId = init.requestId;
    // The server's summary (which may differ from the first detail, e.g. for 405) wins.
    Object.defineProperty(this, 'code', { value: init.code });
    Object.defineProperty(this, 'message', { value: init.message });
  }
}

/** 401: missing or unknown token. */
export class AuthenticationError extends ApiError {
  override readonly name = 'AuthenticationError';
}

/** 403: the token may not do this (a read token writing). */
export class AuthorizationError extends ApiError {
  override readonly name = 'AuthorizationError';
}

/** 404: no such rule. */
export class NotFoundError extends ApiError {
  override readonly name = 'NotFoundError';
}

/** 429: too many requests; `retryAfter` is the server's wait in seconds, when it gave one. */
export class RateLimitError extends ApiError {
  override readonly name = 'RateLimitError';
  readonly retryAfter: number | undefined;

  constructor(init: Init & { retryAfter?: number | undefined }) {
    super(init);
    this.retryAfter = init.retryAfter;
  }
}

/** @internal The error for a response (or `undefined` status 0 for a failed request). */
export function apiError(init: Init & { retryAfter?: number | undefined }): Error & ApiErrorFields {
  switch (init.type) {
    case 'validation_error': return new ValidationError(init);
    case 'authentication_error': return new AuthenticationError(init);
    case 'authorization_error': return new AuthorizationError(init);
    case 'not_found_error': return new NotFoundError(init);
    case 'rate_limit_error': return new RateLimitError(init);
    default: return new ApiError(init);
  }
}
