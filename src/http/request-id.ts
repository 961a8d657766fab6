/**
 * @internal The one request-id scheme of every endpoint (`/v1/errors`, and `serve`'s `/v1/attempts`
 * and `/v1/messages`): the client's `X-Request-Id` when it is safe to echo, else a new UUID.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

// Echoed in a response header and in logs: no separators, no control characters, bounded.
const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * The request's id: its `X-Request-Id` when 1-128 characters of `[A-Za-z0-9._-]`, else a random UUID.
 *
 * @example
 * ```ts
 * const requestId = requestIdOf(req)
 * res.setHeader('x-request-id', requestId)
 * ```
 */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}
