#!/usr/bin/env node
/**
 * The `smtp-intercept` command. `smtp-intercept serve [options]`: see `--help` and docs/cli.md.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { generateToken, serve, type ServeOptions } from './serve.js';

const HELP = `Usage: smtp-intercept serve [options]

Starts a fake MX (SMTP) and the REST API on one rule set, persisted in a JSON file.

Options:
  --host <address>      address to listen on                      (default 127.0.0.1)
  --smtp-port <port>    SMTP port, 0 for a free one                (default 2525)
  --http-port <port>    REST API port, 0 for a free one            (default 8025)
  --rules <file>        rule file                                  (default ./smtp-intercept.json)
  --token <token>       API bearer token (or SMTP_INTERCEPT_TOKEN; generated and printed when neither)
  --tls-key <file>      PEM key for STARTTLS (with --tls-cert)
  --tls-cert <file>     PEM certificate for STARTTLS (with --tls-key)
  --tls                 offer STARTTLS with the bundled test certificate (localhost; tests only)
  --help                show this help

API: /v1/errors (rules), GET /v1/attempts (recent attempts), GET /v1/messages (accepted mail).
`;

function port(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new Error(`${flag} must be a port number from 0 to 65535 (got "${value}")`);
  return n;
}

/** STARTTLS from the flags: a key and a certificate file together, or the bundled test certificate. */
async function tlsOption(keyFile: string | undefined, certFile: string | undefined, test: boolean): Promise<ServeOptions['tls']> {
  if ((keyFile === undefined) !== (certFile === undefined)) throw new Error('--tls-key and --tls-cert go together');
  if (keyFile !== undefined && certFile !== undefined) {
    if (test) throw new Error('--tls uses the bundled test certificate: leave it out with --tls-key/--tls-cert');
    return { key: await readFile(keyFile), cert: await readFile(certFile) };
  }
  return test ? true : undefined;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      host: { type: 'string' },
      'smtp-port': { type: 'string' },
      'http-port': { type: 'string' },
      rules: { type: 'string' },
      token: { type: 'string' },
      'tls-key': { type: 'string' },
      'tls-cert': { type: 'string' },
      tls: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help || positionals.length === 0) {
    process.stdout.write(HELP);
    return values.help ? 0 : 1;
  }
  if (positionals[0] !== 'serve' || positionals.length > 1) throw new Error(`unknown command "${positionals.join(' ')}"; try --help`);
  const given = values.token ?? process.env.SMTP_INTERCEPT_TOKEN;
  const token = given && given.length > 0 ? given : generateToken();
  const served = await serve({
    host: values.host ?? '127.0.0.1',
    smtpPort: port(values['smtp-port'], 2525, '--smtp-port'),
    httpPort: port(values['http-port'], 8025, '--http-port'),
    rules: values.rules ?? './smtp-intercept.json',
    token,
    keep: 1000,
    tls: await tlsOption(values['tls-key'], values['tls-cert'], values.tls === true),
  });
  process.stdout.write(`smtp listening on ${served.smtp.host}:${served.smtp.port}\n`);
  process.stdout.write(`http listening on ${served.http.host}:${served.http.port}\n`);
  if (!given) process.stdout.write(`token ${token}\n`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      process.stdout.write(`${signal}: shutting down\n`);
      served.close().then(resolve, (err: unknown) => { process.stderr.write(`error while shutting down: ${String(err)}\n`); resolve(); });
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  return 0;
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err: unknown) => {
  process.stderr.write(`smtp-intercept: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
