/**
 * A real Haraka (npm `Haraka`) in a child process, configured in a temporary directory: relays every
 * message from loopback to outbound, runs the smtp-intercept plugin from the build, and reports its
 * outbound hooks (`deferred`, `bounce`, `delivered`) to the test over IPC.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { ChildHost } from './child-host.js';

/** One outbound hook as Haraka ran it. */
export interface HookReport {
  hook: 'deferred' | 'bounce' | 'delivered';
  domain: string;
  err?: string;
  delay?: number;
  response?: string;
  num_failures: number;
  rcpts: { address: string; dsn_action?: string; dsn_smtp_code?: string; dsn_smtp_extc?: string; dsn_smtp_response?: string; reason?: string }[];
}

export interface Haraka {
  smtpPort: number;
  httpPort: number;
  reports: HookReport[];
  /** Resolves with the first report (seen or coming) that `match` accepts. */
  waitFor(match: (r: HookReport) => boolean, timeoutMs?: number): Promise<HookReport>;
  log(): string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as { port: number };
  await new Promise((ok) => server.close(ok));
  return port;
}

const OBSERVER = `
const rcpts = (hmail) => hmail.todo.rcpt_to.map((r) => ({ address: String(r.address), dsn_action: r.dsn_action,
  dsn_smtp_code: r.dsn_smtp_code, dsn_smtp_extc: r.dsn_smtp_extc, dsn_smtp_response: r.dsn_smtp_response, reason: r.reason }))
const report = (hook, hmail, extra) => process.send({ hook, domain: hmail.todo.domain, num_failures: hmail.num_failures, rcpts: rcpts(hmail), ...extra })
exports.hook_deferred = function (next, hmail, params) { report('deferred', hmail, { err: String(params.err), delay: params.delay }); next() }
exports.hook_bounce = function (next, hmail, err) { report('bounce', hmail, { err: err && err.message ? err.message : String(err) }); next() }
exports.hook_delivered = function (next, hmail, params) { report('delivered', hmail, { response: String(params[2]) }); next() }
`;

const RELAY = `
exports.hook_connect_init = function (next, connection) { connection.relaying = true; next() }
exports.hook_rcpt = function (next) { next(OK) }
// Where an application puts pool and campaign: here from headers, into the notes the plugin reads.
exports.hook_data_post = function (next, connection) {
  const t = connection.transaction
  const pool = t.header.get('X-Pool').trim()
  const tags = t.header.get('X-Campaign').trim()
  if (pool) t.notes.pool = pool
  if (tags) t.notes.tags = tags.split(',')
  next()
}
`;

/** Starts Haraka with `routes` (domain -> host:port) and the plugin's REST API on a free port. */
export async function startHaraka(routes: Record<string, string>, outbound = 'temp_fail_intervals=5s,5s,1m\n'): Promise<Haraka> {
  const dir = mkdtempSync(join(tmpdir(), 'haraka-'));
  const [smtpPort, httpPort] = [await freePort(), await freePort()];
  const bin = createRequire(import.meta.url).resolve('Haraka/bin/haraka');
  // Haraka's shipped defaults (connection.ini, bounce templates...), then the test's own files.
  cpSync(join(dirname(bin), '..', 'config'), join(dir, 'config'), { recursive: true });
  mkdirSync(join(dir, 'plugins'));
  mkdirSync(join(dir, 'queue'));
  const cfg = (name: string, text: string) => writeFileSync(join(dir, 'config', name), text);
  cfg('smtp.ini', `[main]\nlisten=127.0.0.1:${smtpPort}\nnodes=\n`);
  cfg('me', 'haraka.test\n');
  cfg('plugins', 'test-relay\nsmtp-intercept\ntest-observer\n');
  cfg('outbound.ini', `enable_tls=false\n${outbound}`);
  cfg('log.ini', '[main]\nlevel=info\n');
  cfg('smtp-intercept.ini', `[main]\nresolve_mx=false\n[http]\nport=${httpPort}\n[routes]\n${Object.entries(routes).map(([d, t]) => `${d}=${t}`).join('\n')}\n`);
  const plugin = resolve('dist/cjs/adapters/haraka.js');
  writeFileSync(join(dir, 'plugins', 'smtp-intercept.js'), `Object.assign(exports, require(${JSON.stringify(plugin)}).createHarakaPlugin())\n`);
  writeFileSync(join(dir, 'plugins', 'test-relay.js'), RELAY);
  writeFileSync(join(dir, 'plugins', 'test-observer.js'), OBSERVER);

  const child: ChildProcess = fork(bin, ['-c', dir], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env: { ...process.env, NODE_ENV: 'production' } });
  const host = new ChildHost<HookReport>(child, 'Haraka', (m) => m as HookReport);
  await host.started(() => host.log().includes('smtp-intercept: ready') && host.log().includes(`127.0.0.1:${smtpPort}`));
  return {
    smtpPort, httpPort,
    reports: host.reports,
    log: () => host.log(),
    waitFor: (match, timeoutMs) => host.waitFor(match, timeoutMs),
    async stop() {
      await host.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
