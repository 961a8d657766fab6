/**
 * Request bodies and query strings: size-limited reading, JSON and urlencoded parsing, and the errors
 * each failure gets. A body over the limit is refused as soon as that is known (from Content-Length, or
 * while streaming), never buffered whole.
 */
import type { IncomingMessage } from 'node:http';
import { HttpError } from './api-error.js';

const invalid = (code: string, message: string, status = 400) => new HttpError(status, 'validation_error', code, message);

function tooLarge(limit: number): HttpError {
  return new HttpError(413, 'payload_too_large_error', 'payload_too_large', `the request body is larger than ${limit} bytes`, { connection: 'close' });
}

/** Reads the body, refusing it (413) once it exceeds `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    // Refused before reading a byte; the connection is closed after the response.
    req.resume();
    return Promise.reject(tooLarge(limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.resume(); // discard the rest without keeping it
        chunks.length = 0;
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Decodes one urlencoded key or value strictly: broken percent-encoding is refused, never replaced. */
function decodeFormPart(part: string): string {
  const text = part.includes('+') ? part.replaceAll('+', ' ') : part;
  if (!text.includes('%')) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    // URLSearchParams would keep a lone "%" and turn bytes that are not UTF-8 into U+FFFD: silently
    // storing something other than what was sent.
    throw invalid('invalid_encoding', `"${part.slice(0, 64)}" is not valid percent-encoded UTF-8 (send a literal "%" as %25)`);
  }
}

/**
 * Parses urlencoded text into an object of strings. A key given twice is an error (which value was
 * meant is ambiguous, and picking one would silently drop the other), except the keys in `lists`,
 * whose repeated values make an array (`description=a&description=b`: a multi-line reply).
 */
export function parseForm(text: string, lists?: ReadonlySet<string>): Record<string, string | string[]> {
  const out = Object.create(null) as Record<string, string | string[]>;
  if (text === '') return {};
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = decodeFormPart(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? '' : decodeFormPart(pair.slice(eq + 1));
    const previous = out[key];
    if (previous === undefined) {
      out[key] = value;
    } else if (lists?.has(key)) {
      out[key] = typeof previous === 'string' ? [previous, value] : [...previous, value];
    } else {
      throw new HttpError(400, 'validation_error', 'duplicate_field', `field "${key}" is given more than once`, {}, key);
    }
  }
  return { ...out };
}

const JSON_TYPE = /^application\/json\s*(;\s*charset\s*=\s*"?utf-8"?\s*)?$/i;
const FORM_TYPE = /^application\/x-www-form-urlencoded\s*(;\s*charset\s*=\s*"?utf-8"?\s*)?$/i;

// The rule fields a form may repeat: each value is one line of a multi-line reply.
const FORM_LISTS: ReadonlySet<string> = new Set(['description']);

// The rule fields a form gives as `field[key]=value` (`rate[limit]=100&rate[window]=60`).
const FORM_OBJECT = /^(greylist|rate)\[([a-z]+)\]$/;

/** Folds `rate[limit]=…` keys into objects; `greylist=true` stays a flat value, and mixing both is an error. */
function nestForm(flat: Record<string, string | string[]>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(flat)) {
    const m = FORM_OBJECT.exec(key);
    if (m === null) { out[key] = value; continue; }
    const field = m[1]!;
    if (typeof flat[field] === 'string') {
      throw new HttpError(400, 'validation_error', 'duplicate_field', `field "${field}" is given both as a value and as ${field}[...]`, {}, field);
    }
    const nested = (out[field] ??= {}) as Record<string, string | string[]>;
    nested[m[2]!] = value;
  }
  return out;
}

/**
 * Parses a body by its Content-Type, JSON or urlencoded, into an object (a rule or a selector).
 * `undefined` for an empty body without a content type; any other body that is not an object is a 400:
 * `null` or a string must never reach `remove` as "no selector" or "an id".
 */
export function parseBody(body: Buffer, contentType: string | undefined): object | undefined {
  if (body.length === 0 && contentType === undefined) return undefined;
  const type = contentType?.trim() ?? '';
  if (JSON_TYPE.test(type)) {
    if (body.length === 0) throw invalid('invalid_json', 'the request body is empty; send a JSON object');
    const text = decodeUtf8(body);
    let value: unknown;
    try {
      value = JSON.parse(text) as unknown;
    } catch (err) {
      throw invalid('invalid_json', `the request body is not valid JSON: ${(err as Error).message}`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
      throw invalid('invalid_type', `the request body must be a JSON object (a rule or a selector), not ${got}; remove a rule by id with DELETE on its URL`);
    }
    return value;
  }
  if (FORM_TYPE.test(type)) return nestForm(parseForm(decodeUtf8(body), FORM_LISTS));
  throw invalid('unsupported_media_type',
    `Content-Type ${contentType === undefined ? '(none)' : `"${contentType}"`} is not supported; send application/json or application/x-www-form-urlencoded (UTF-8)`, 415);
}

// Reusable: a non-streaming decode starts afresh on every call.
const UTF8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(body: Buffer): string {
  try {
    return UTF8.decode(body);
  } catch {
    throw invalid('invalid_encoding', 'the request body is not valid UTF-8');
  }
}
