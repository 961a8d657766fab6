#!/usr/bin/env node
/**
 * The `smtp-intercept` command. `smtp-intercept serve [options]`: see `--help` and docs/cli.md.
 */
import { parseArgs } from 'node:util';
import { generateToken, serve } from './serve.js';

const HELP = `Usage: smtp-intercept serve [options]

Starts a fake MX (SMTP) and the REST API on one rule set, persisted in a JSON file.

Options:
  --host <address>      address to listen on                      (default 127.0.0.1)
  --smtp-port <port>    SMTP port, 0 for a free one                (default 2525)
  --http-port <port>    REST API port, 0 for a free one            (default 8025)
  --rules <file>        rule file                                  (default ./smtp-intercept.json)
  --hostname <name>     the MX host name to play: greeting, and attempts' mx (default: none)
  --token <token>       API bearer token (or SMTP_INTERCEPT_TOKEN; generated and printed when neither)
  --help                show this help

API: /v1/errors (rules), GET /v1/attempts (recent attempts), GET /v1/messages (accepted mail).
`;

function port(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new Error(`${flag} must be a port number from 0 to 65535 (got "${value}")`);
  return n;
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
      hostname: { type: 'string' },
      token: { type: 'string' },
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
    ...(values.hostname === undefined ? {} : { hostname: values.hostname }),
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
