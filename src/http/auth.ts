/**
 * Bearer-token authentication with constant-time comparison: every configured token is compared (as
 * SHA-256 digests of equal length) on every request, so timing reveals neither a token's prefix nor
 * which token matched.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { ValidationError } from '../index.js';
import { HttpError } from './api-error.js';

/** What a token may do: `read` lists and gets rules; `write` also adds and removes them. */
export type TokenScope = 'read' | 'write';

/** A token as configured: the secret, a name for request logs, and its scope (default `write`). */
export interface TokenOptions {
  token: string;
  /** Shown in the `request` event instead of the secret. @default `token-<index>` */
  name?: string;
  /** @default 'write' */
  scope?: TokenScope;
}

interface Credential {
  readonly digest: Buffer;
  readonly name: string;
  readonly scope: TokenScope;
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/** @internal Validates and prepares the configured tokens. */
export function credentials(tokens: readonly (string | TokenOptions)[]): Credential[] {
  return tokens.map((entry, i) => {
    const { token, name = `token-${i}`, scope = 'write' } = typeof entry === 'string' ? { token: entry } : entry;
    if (typeof token !== 'string' || token.length === 0 || /\s/.test(token)) {
      throw new ValidationError([{ code: 'invalid_format', message: `tokens[${i}] must be a non-empty string without spaces`, param: 'tokens' }]);
    }
    if (scope !== 'read' && scope !== 'write') {
      throw new ValidationError([{ code: 'invalid_format', message: `tokens[${i}].scope must be "read" or "write"`, param: 'tokens' }]);
    }
    return { digest: digest(token), name, scope };
  });
}

const BEARER = /^Bearer +(\S+) *$/i;

/** @internal The credential presenting `authorization`; throws the 401 otherwise. */
export function authenticate(creds: readonly Credential[], authorization: string | undefined): Credential {
  const match = authorization === undefined ? null : BEARER.exec(authorization);
  if (!match) {
    throw new HttpError(401, 'authentication_error', 'missing_token', 'send the API token as "Authorization: Bearer <token>"',
      { 'www-authenticate': 'Bearer realm="smtp-intercept"' });
  }
  const presented = digest(match[1]!);
  let found: Credential | undefined;
  for (const cred of creds) if (timingSafeEqual(cred.digest, presented) && found === undefined) found = cred;
  if (!found) {
    throw new HttpError(401, 'authentication_error', 'invalid_token', 'the API token is not valid',
      { 'www-authenticate': 'Bearer realm="smtp-intercept", error="invalid_token"' });
  }
  return found;
}
