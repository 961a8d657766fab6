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
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * Parses urlencoded text into an object of strings. A key given twice is an error: which value was
 * meant is ambiguous, and picking one would silently drop the other.
 */
export function parseForm(text: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [key, value] of new URLSearchParams(text)) {
    if (Object.hasOwn(out, key)) {
      throw new HttpError(400, 'validation_error', 'duplicate_field', `field "${key}" is given more than once`, {}, key);
    }
    out[key] = value;
  }
  return { ...out };
}

const JSON_TYPE = /^application\/json\s*(;\s*charset\s*=\s*"?utf-8"?\s*)?$/i;
const FORM_TYPE = /^application\/x-www-form-urlencoded\s*(;\s*charset\s*=\s*"?utf-8"?\s*)?$/i;

/**
 * Parses a body by its Content-Type: JSON (an object) or urlencoded. `undefined` for an empty body
 * without a content type.
 */
export function parseBody(body: Buffer, contentType: string | undefined): unknown {
  if (body.length === 0 && contentType === undefined) return undefined;
  const type = contentType?.trim() ?? '';
  if (JSON_TYPE.test(type)) {
    if (body.length === 0) throw invalid('invalid_json', 'the request body is empty; send a JSON object');
    const text = decodeUtf8(body);
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw invalid('invalid_json', `the request body is not valid JSON: ${(err as Error).message}`);
    }
  }
  if (FORM_TYPE.test(type)) return parseForm(decodeUtf8(body));
  throw invalid('unsupported_media_type',
    `Content-Type ${contentType === undefined ? '(none)' : `"${contentType}"`} is not supported; send application/json or application/x-www-form-urlencoded (UTF-8)`, 415);
}

function decodeUtf8(body: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw invalid('invalid_encoding', 'the request body is not valid UTF-8');
  }
}
