/**
 * A real Haraka (npm `Haraka`) in a child process, in a directory made by `haraka -i` plus the changes
 * docs/haraka.md tells users to make (the plugin file, `config/plugins`, `config/smtp-intercept.ini`,
 * `smtp-intercept` in `node_modules`), and only what the test needs besides: the listen address, `nodes`
 * for the process model, the retry intervals, and two test plugins (relay from loopback; report the
 * outbound hooks to the test over IPC, relayed by the primary in cluster mode).
 */
import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type CheckReport, ChildHost } from './child-host.js';

/** One outbound hook as Haraka ran it, with the pid of the process that ran it. */
export interface HookReport {
  hook: 'deferred' | 'bounce' | 'delivered';
  pid: number;
  domain: string;
  err?: string;
  delay?: number;
  response?: string;
  num_failures: number;
  rcpts: { address: string; dsn_action?: string; dsn_smtp_code?: string; dsn_smtp_extc?: string; dsn_smtp_response?: string; reason?: string }[];
}

/**
 * How `smtp.ini` sets `nodes`: `'unset'` is the line as `haraka -i` writes it (commented out: one
 * worker), `''` and `0` a single process, a number that many workers.
 */
export type Nodes = 'unset' | '' | number;

/** Workers Haraka forks for a `nodes` setting (0: a single process). */
export const workersOf = (nodes: Nodes): number => (nodes === 'unset' ? 1 : nodes === '' ? 0 : nodes);

export interface Haraka {
  smtpPort: number;
  dir: string;
  /** Pids of the processes that deliver (the workers, or the single process), as they announced themselves. */
  workers(): number[];
  httpPort: number;
  reports: HookReport[];
  /** The plugin's checks, in the process holding the rules (the primary in cluster mode). */
  checks: CheckReport[];
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
const cluster = require('node:cluster')
const rcpts = (hmail) => hmail.todo.rcpt_to.map((r) => ({ address: String(r.address), dsn_action: r.dsn_action,
  dsn_smtp_code: r.dsn_smtp_code, dsn_smtp_extc: r.dsn_smtp_extc, dsn_smtp_response: r.dsn_smtp_response, reason: r.reason }))
const report = (hook, hmail, extra) => process.send({ hook, pid: process.pid, domain: hmail.todo.domain, num_failures: hmail.num_failures, rcpts: rcpts(hmail), ...extra })
exports.register = function () {
  // A worker's process.send reaches the primary: the primary passes its reports on to the test.
  if (cluster.isPrimary) cluster.on('message', (worker, m) => { if (m && (m.hook || m.worker)) process.send(m) })
}
// A single process delivers itself; in cluster mode init_master runs in the primary, which does not deliver.
exports.hook_init_master = function (next, server) { if (!server.cluster) process.send({ worker: process.pid }); next() }
exports.hook_init_child = function (next) { process.send({ worker: process.pid }); next() }
exports.hook_deferred = function (next, hmail, params) { report('deferred', hmail, { err: String(params.err), delay: params.delay }); next() }
exports.hook_bounce = function (next, hmail, err) { report('bounce', hmail, { err: err && err.message ? err.message : String(err) }); next() }
exports.hook_delivered = function (next, hmail, params) { report('delivered', hmail, { response: String(params[2]) }); next() }
// The plugin's checks in this process (the one holding the rules), as ChildHost's CheckReport.
require('node:diagnostics_channel').subscribe('smtp-intercept:check:result', ({ attempt }) =>
  process.send({ check: { recipient: attempt.recipient, phase: attempt.phase, tls: 'tls' in attempt ? attempt.tls : 'absent' } }))
`;

const RELAY = `
exports.hook_connect_init = function (next, connection) { connection.relaying = true; next() }
// The test's domains are not in DNS: accept the envelope before mail_from.is_resolvable (from haraka -i) asks.
exports.hook_mail = function (next) { next(OK) }
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

/** Options of {@link startHaraka}. */
export interface HarakaOptions {
  /** The process model. @default 'unset' (as `haraka -i` writes smtp.ini) */
  nodes?: Nodes;
  /** Lines of `outbound.ini`. @default retries after 5 s, 5 s, 1 min */
  outbound?: string;
  /** The REST API's port (`[http] port`). @default a free port */
  httpPort?: number;
}

/** Starts Haraka with `routes` (domain -> host:port) and the plugin's REST API on a free port. */
export async function startHaraka(routes: Record<string, string>, { nodes = 'unset', outbound = 'temp_fail_intervals=5s,5s,1m\n', ...options }: HarakaOptions = {}): Promise<Haraka> {
  const dir = join(mkdtempSync(join(tmpdir(), 'haraka-')), 'haraka');
  const [smtpPort, httpPort] = [await freePort(), options.httpPort ?? await freePort()];
  const bin = createRequire(import.meta.url).resolve('Haraka/bin/haraka');
  execFileSync(process.execPath, [bin, '-i', dir], { stdio: 'ignore' });
  const config = (name: string) => join(dir, 'config', name);
  // What docs/haraka.md tells users to do: install the package, the one-line plugin, config/plugins, the ini.
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(resolve('.'), join(dir, 'node_modules', 'smtp-intercept'), 'dir');
  writeFileSync(join(dir, 'plugins', 'smtp-intercept.js'), "Object.assign(exports, require('smtp-intercept/haraka').createHarakaPlugin())\n");
  writeFileSync(config('smtp-intercept.ini'), `[main]\nresolve_mx=false\n[http]\nport=${httpPort}\n[routes]\n${Object.entries(routes).map(([d, t]) => `${d}=${t}`).join('\n')}\n`);
  // The test's plugins around it: relaying from loopback first, the hook reports last.
  writeFileSync(config('plugins'), `test-relay\n${readFileSync(config('plugins'), 'utf8')}\nsmtp-intercept\ntest-observer\n`);
  writeFileSync(join(dir, 'plugins', 'test-relay.js'), RELAY);
  writeFileSync(join(dir, 'plugins', 'test-observer.js'), OBSERVER);
  // Only what the test needs of Haraka's own settings: where it listens, the process model, retries.
  appendFileSync(config('smtp.ini'), `\n[main]\nlisten=127.0.0.1:${smtpPort}\n${nodes === 'unset' ? '' : `nodes=${nodes}\n`}`);
  writeFileSync(config('outbound.ini'), outbound);

  const child: ChildProcess = fork(bin, ['-c', dir], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env: { ...process.env, NODE_ENV: 'production' } });
  const workers: number[] = [];
  const host = new ChildHost<HookReport>(child, 'Haraka', (m) => {
    const message = m as Partial<HookReport> & { worker?: number };
    if (typeof message.worker === 'number') workers.push(message.worker);
    return message.hook === undefined ? undefined : message as HookReport;
  });
  const expected = Math.max(1, workersOf(nodes));
  // Started, or failed to start and said so: either way each worker has heard from the primary.
  const ready = (pid: number) => workersOf(nodes) === 0 || host.log().includes(`smtp-intercept: worker ${pid} `);
  // Each worker loads Haraka and its plugins again: seconds each on a loaded machine.
  await host.started(() => /smtp-intercept: (ready|not started)/.test(host.log()) && workers.length >= expected && workers.every(ready), 60_000);
  return {
    smtpPort, httpPort, dir,
    workers: () => [...workers],
    reports: host.reports,
    checks: host.checks,
    log: () => host.log(),
    waitFor: (match, timeoutMs) => host.waitFor(match, timeoutMs),
    async stop() {
      await host.stop();
      rmSync(join(dir, '..'), { recursive: true, force: true });
    },
  };
}
