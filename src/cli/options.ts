/**
 * The `serve` command line: every option parsed and validated before anything starts, so a bad value
 * exits 1 with a message naming the flag and leaves no port open.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { MESSAGE_STORE_DEFAULTS } from '../testing/message-store.js';
import type { ServeOptions } from './serve.js';

/** Defaults of the `serve` flags, as documented in docs/cli.md and `--help`. */
export const SERVE_DEFAULTS = Object.freeze({
  host: '127.0.0.1',
  smtpPort: 2525,
  httpPort: 8025,
  rules: './smtp-intercept.json',
  maxMessages: MESSAGE_STORE_DEFAULTS.maxMessages,
  maxStoredBytes: MESSAGE_STORE_DEFAULTS.maxBytes,
  requestTimeout: 10_000,
  maxConnections: 256,
});

/** Every flag `serve` accepts (`node:util` `parseArgs` options); `--help` and docs/cli.md list each. */
export const SERVE_FLAGS = {
  host: { type: 'string' },
  'smtp-port': { type: 'string' },
  'http-port': { type: 'string' },
  rules: { type: 'string' },
  token: { type: 'string' },
  'max-messages': { type: 'string' },
  'max-stored-bytes': { type: 'string' },
  'request-timeout': { type: 'string' },
  'max-connections': { type: 'string' },
  'metrics-public': { type: 'boolean' },
  hostname: { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-cert': { type: 'string' },
  tls: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

/** The parsed command line: help, or validated options and whether the token must be generated. */
export type ParsedArgs = { help: true; exitCode: number } | { help: false; options: Omit<ServeOptions, 'token'>; token: string | undefined };

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function integer(value: string | undefined, fallback: number, flag: string, min: number, max: number, what: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d{1,16}$/.test(value) || n < min || n > max) throw new Error(`${flag} must be ${what} from ${min} to ${max} (got "${value}")`);
  return n;
}

function host(value: string | undefined): string {
  if (value === undefined) return SERVE_DEFAULTS.host;
  // `[::1]` as in a URL is accepted too; listening needs the bare address.
  const bare = value.startsWith('[') && value.endsWith(']') ? value.slice(1, -1) : value;
  if (isIP(bare) !== 0 || (bare === value && HOSTNAME.test(bare))) return bare;
  throw new Error(`--host must be an IP address or a host name (got "${value}")`);
}

/** STARTTLS from the flags: a key and a certificate file together, or the bundled test certificate. */
function tlsOption(keyFile: string | undefined, certFile: string | undefined, test: boolean): ServeOptions['tls'] {
  if ((keyFile === undefined) !== (certFile === undefined)) throw new Error('--tls-key and --tls-cert go together');
  if (keyFile !== undefined && certFile !== undefined) {
    if (test) throw new Error('--tls uses the bundled test certificate: leave it out with --tls-key/--tls-cert');
    const read = (file: string, flag: string) => {
      try { return readFileSync(file); } catch (err) { throw new Error(`${flag} "${file}" cannot be read: ${(err as Error).message}`); }
    };
    return { key: read(keyFile, '--tls-key'), cert: read(certFile, '--tls-cert') };
  }
  return test ? true : undefined;
}

function hostname(value: string): string {
  if (HOSTNAME.test(value)) return value;
  throw new Error(`--hostname must be a host name such as mx.example.com (got "${value}")`);
}

/**
 * Parses and validates `argv` (after the node and script arguments) with `env`'s token fallback;
 * throws an `Error` naming the flag.
 *
 * @example
 * ```ts
 * const parsed = parseServeArgs(['serve', '--smtp-port', '0'], process.env)
 * if (!parsed.help) await serve({ ...parsed.options, token: parsed.token ?? generateToken() })
 * ```
 */
export function parseServeArgs(argv: readonly string[], env: NodeJS.ProcessEnv): ParsedArgs {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: SERVE_FLAGS,
  });
  if (values.help || positionals.length === 0) return { help: true, exitCode: values.help ? 0 : 1 };
  if (positionals[0] !== 'serve' || positionals.length > 1) throw new Error(`unknown command "${positionals.join(' ')}"; try --help`);
  const given = values.token ?? env['SMTP_INTERCEPT_TOKEN'];
  if (given !== undefined && given !== '' && /\s/.test(given)) {
    throw new Error(`${values.token === undefined ? 'SMTP_INTERCEPT_TOKEN' : '--token'} must not contain spaces or other whitespace`);
  }
  const rules = values.rules ?? SERVE_DEFAULTS.rules;
  if (rules === '') throw new Error('--rules must be a file path');
  const D = SERVE_DEFAULTS;
  return {
    help: false,
    token: given === '' ? undefined : given,
    options: {
      host: host(values.host),
      smtpPort: integer(values['smtp-port'], D.smtpPort, '--smtp-port', 0, 65535, 'a port number'),
      httpPort: integer(values['http-port'], D.httpPort, '--http-port', 0, 65535, 'a port number'),
      rules,
      maxMessages: integer(values['max-messages'], D.maxMessages, '--max-messages', 1, 10_000_000, 'a count'),
      maxStoredBytes: integer(values['max-stored-bytes'], D.maxStoredBytes, '--max-stored-bytes', 1024, Number.MAX_SAFE_INTEGER, 'a number of bytes'),
      requestTimeout: integer(values['request-timeout'], D.requestTimeout, '--request-timeout', 100, 3_600_000, 'milliseconds'),
      maxConnections: integer(values['max-connections'], D.maxConnections, '--max-connections', 1, 100_000, 'a count'),
      metricsPublic: values['metrics-public'] ?? false,
      ...(values.hostname === undefined ? {} : { hostname: hostname(values.hostname) }),
      tls: tlsOption(values['tls-key'], values['tls-cert'], values.tls === true),
    },
  };
}
