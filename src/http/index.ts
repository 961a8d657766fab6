/**
 * `smtp-intercept/http`: MailerQ's `/v1/errors` REST API for an {@link Interceptor}, on `node:http`
 * types (no framework dependency).
 */
export { createErrorsHandler } from './errors-handler.js';
export type { ErrorsHandler, ErrorsHandlerEvents, ErrorsHandlerOptions, RequestLog } from './errors-handler.js';
export type { TokenOptions, TokenScope } from './auth.js';
export type { ErrorBody, ErrorType } from './api-error.js';
