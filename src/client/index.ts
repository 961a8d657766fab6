/**
 * `smtp-intercept/client`: a typed client of the `/v1/errors` REST API with retries.
 */
export { ErrorsClient } from './errors-client.js';
export type { ErrorsClientOptions, IterateOptions, RuleJSONPage } from './errors-client.js';
export type { BackoffOptions } from './retry.js';
export { ApiError, AuthenticationError, AuthorizationError, NotFoundError, RateLimitError, ValidationError } from './errors.js';
export type { ApiErrorFields } from './errors.js';
export type { PageOptions, RuleFilter, RuleInput, RuleJSON } from '../index.js';
