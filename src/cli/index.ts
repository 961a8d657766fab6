#!/usr/bin/env node
/**
 * The `smtp-intercept` command. `smtp-intercept serve [options]`: see `--help` and docs/cli.md.
 */
import { parseServeArgs, SERVE_DEFAULTS as D } from './options.js';
import { generateToken, serve } from './serve.js';

const HELP = `Usage: smtp-intercept serve [options]

Starts a fake MX (SMTP) and the REST API on one rule set, persisted in a rule file (JSON lines).

Options:
  --host <address>          address to listen on                          (default ${D.host})
  --smtp-port <port>        SMTP port, 0 for a free one                    (default ${D.smtpPort})
  --http-port <port>        REST API port, 0 for a free one                (default ${D.httpPort})
  --rules <file>            rule file; its directory is created if missing (default ${D.rules})
  --token <token>           API bearer token (or SMTP_INTERCEPT_TOKEN; generated and printed when neither)
  --max-messages <n>        accepted messages kept, oldest dropped first   (default ${D.maxMessages})
  --max-stored-bytes <n>    raw bytes of accepted messages kept            (default ${D.maxStoredBytes})
  --request-timeout <ms>    time a client has to send a whole API request  (default ${D.requestTimeout})
  --max-connections <n>     open API connections; more are refused         (default ${D.maxConnections})
  --hostname <name>         the MX host name to play: greeting, attempts' mx (default: none)
  --tls-key <file>          PEM key for STARTTLS (with --tls-cert)
  --tls-cert <file>         PEM certificate for STARTTLS (with --tls-key)
  --tls                     offer STARTTLS with the bundled test certificate (localhost; tests only)
  --metrics-public          serve GET /metrics without the token
  --help                    show this help

API: /v1/errors (rules), GET /v1/attempts (recent attempts), GET /v1/attempts/stream (live, server-sent
events), GET /v1/messages (accepted mail), GET /metrics (Prometheus). Dashboard: http://<host>:<http-port>/
`;

// Once connections are told (smtp-server sends 421 after a one-second grace), nothing is left to wait
// for: a client that never closes its side would otherwise hold the process for smtp-server's 5 s.
function exit(code: number): never {
  process.exit(code);
}

/** `host:port` as a URL authority: IPv6 addresses in brackets. */
function authority(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

async function main(argv: string[]): Promise<void> {
  const parsed = parseServeArgs(argv, process.env);
  if (parsed.help) {
    process.stdout.write(HELP);
    exit(parsed.exitCode);
  }
  const token = parsed.token ?? generateToken();
  const served = await serve({ ...parsed.options, token });
  // One write: a script that reads up to the listener lines also has the token line.
  process.stdout.write([
    `smtp listening on ${authority(served.smtp.host, served.smtp.port)}`,
    `http listening on ${authority(served.http.host, served.http.port)}`,
    `dashboard at http://${authority(served.http.host, served.http.port)}/`,
    ...(parsed.token === undefined ? [`token ${token}`] : []),
  ].join('\n') + '\n');
  const stop = (signal: string) => {
    process.stdout.write(`${signal}: shutting down\n`);
    served.close().then(() => exit(0), (err: unknown) => {
      process.stderr.write(`smtp-intercept: error while shutting down: ${(err as Error).message}\n`);
      exit(1);
    });
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

main(process.argv.slice(2)).catch((err: unknown) => {
  // serve() has closed whatever it started; exit now rather than wait on anything left behind.
  process.stderr.write(`smtp-intercept: ${(err as Error).message}\n`);
  exit(1);
});
