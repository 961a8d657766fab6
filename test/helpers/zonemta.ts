/**
 * ZoneMTA's real sender process (zone-mta 3.10.x `lib/sender.js`, its plugin loader, mx-connect and
 * bounce classification) in a child process, configured by a real ZoneMTA config file that loads the
 * plugin from the build. Only the queue is in memory (see zonemta-sender.cjs): ZoneMTA's queue needs
 * MongoDB. The child reports each queue command the sender makes (DEFER, RELEASE, BOUNCE).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CheckReport, ChildHost } from './child-host.js';

/** One queue command of the sender, as ZoneMTA's queue server would receive it. */
export interface QueueReport {
  cmd: 'DEFER' | 'RELEASE' | 'BOUNCE' | 'ERROR';
  id: string;
  seq: string;
  recipient?: string;
  to?: string;
  from?: string;
  ttl?: number;
  response?: string;
  category?: string;
  address?: string;
  status?: { delivered: boolean; response: string; mx?: string; ip?: string };
  message?: string;
  /** BOUNCE: the message headers (mailsplit's list); the report also carries the rest of the command. */
  headers?: unknown[];
}

export interface ZoneMta {
  reports: QueueReport[];
  /** The plugin's checks in the sender. */
  checks: CheckReport[];
  /** Queues a message (one delivery per recipient) and returns its queue id. */
  queue(from: string, to: string[], headers?: Record<string, string>): string;
  waitFor(match: (r: QueueReport) => boolean, timeoutMs?: number): Promise<QueueReport>;
  log(): string;
  stop(): Promise<void>;
}

export interface ZoneMtaOptions {
  /** Port of the real MX every domain's MX points at (zone `port`). */
  mxPort: number;
  /** MX address per domain (default 127.0.0.1): the rule input `ip`. */
  mxAddresses?: Record<string, string>;
  /** Settings replacing those of the example's plugin entry (redis, prefix...). */
  plugin: Record<string, unknown>;
  /** ZoneMTA `queue.deferTimes`, in milliseconds. */
  deferTimes?: number[];
}

// Sets delivery.mx the way a routing plugin does, so no DNS is asked.
const ROUTER = `
module.exports.title = 'TestRouter'
module.exports.init = (app, done) => {
  app.addHook('sender:fetch', async (delivery) => {
    const ip = app.config.mxAddresses[delivery.domain] || '127.0.0.1'
    delivery.mx = [{ priority: 10, exchange: 'mx.' + delivery.domain, A: [ip], AAAA: [] }]
  })
  done()
}
`;

export const PLUGIN_KEY = 'modules/smtp-intercept/zonemta';
const zoneMtaDir = dirname(createRequire(import.meta.url).resolve('zone-mta/package.json'));
/** Requires a package as ZoneMTA does (its own dependencies). */
export const fromZoneMta = createRequire(join(zoneMtaDir, 'package.json'));

/** The plugin entry of examples/zonemta, parsed by ZoneMTA's TOML parser. */
export function examplePluginEntry(): Record<string, unknown> {
  const { parse } = fromZoneMta('toml') as { parse(text: string): Record<string, Record<string, unknown>> };
  return parse(readFileSync('examples/zonemta/config/plugins/smtp-intercept.toml', 'utf8'))[PLUGIN_KEY]!;
}

export async function startZoneMta(options: ZoneMtaOptions): Promise<ZoneMta> {
  const dir = mkdtempSync(join(tmpdir(), 'zonemta-'));
  // ZoneMTA requires `modules/...` plugins by package name: this package, as if installed.
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(resolve('.'), join(dir, 'node_modules', 'smtp-intercept'), 'dir');
  writeFileSync(join(dir, 'router.js'), ROUTER);
  const config = {
    ident: 'zone-mta-test',
    log: { level: 'info', queue: false },
    dns: { caching: false },
    mtaSts: { enabled: false },
    queue: { deferTimes: options.deferTimes ?? [1000, 1000, 60_000] },
    pools: { default: [{ address: '127.0.0.1', name: 'localhost' }] },
    zones: { default: { port: options.mxPort, connections: 1, processes: 1, pool: 'default', ignoreIPv6: true } },
    plugins: {
      [PLUGIN_KEY]: { ...examplePluginEntry(), ...options.plugin },
      [join(dir, 'router.js')]: { enabled: 'sender', mxAddresses: options.mxAddresses ?? {} },
    },
  };
  writeFileSync(join(dir, 'zonemta.json'), JSON.stringify(config, null, 2));

  const harness = join(dirname(fileURLToPath(import.meta.url)), 'zonemta-sender.cjs');
  const child: ChildProcess = fork(harness, [], {
    cwd: zoneMtaDir,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { ...process.env, NODE_CONFIG_PATH: join(dir, 'zonemta.json'), NODE_PATH: join(dir, 'node_modules'), ZONE: 'default', NODE_ENV: 'production' },
  });
  let ready: { plugins: string[] } | undefined;
  const host = new ChildHost<QueueReport>(child, 'ZoneMTA sender', (m) => {
    const message = m as QueueReport | { ready: true; plugins: string[] };
    if (!('ready' in message)) return message;
    ready = message;
    return undefined;
  });
  await host.started(() => ready !== undefined);
  if (!ready!.plugins.includes('smtp-intercept')) throw new Error(`ZoneMTA did not load the plugin (loaded: ${ready!.plugins.join(', ')}):\n${host.log()}`);

  return {
    reports: host.reports,
    checks: host.checks,
    log: () => host.log(),
    queue(from, to, headers = {}) {
      const id = randomBytes(8).toString('hex');
      const head = Object.entries({ From: from, To: to.join(', '), Subject: 'hello', 'Message-ID': `<${id}@sender.test>`, ...headers })
        .map(([k, v]) => `${k}: ${v}`).join('\r\n');
      child.send({ id, from, to, message: `${head}\r\n\r\nhi\r\n` });
      return id;
    },
    waitFor: (match, timeoutMs) => host.waitFor(match, timeoutMs),
    async stop() {
      await host.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * ZoneMTA's main process handling a BOUNCE from a sender, as its queue server does: the `queue:bounce`
 * hooks of ZoneMTA's own `core/email-bounce` plugin (with ZoneMTA's default settings) build the DSN.
 * Returns what that plugin hands to the mail drop (which would queue it in MongoDB).
 */
export async function bounceMessage(report: QueueReport): Promise<{ envelope: { from: string; to: string }; message: string }> {
  const PluginHandler = fromZoneMta('@zone-eu/wild-plugins') as new (options: object) => {
    queue: unknown; load(done: () => void): void; runHooks(name: string, args: unknown[]): Promise<void>;
  };
  const { Headers } = fromZoneMta('mailsplit') as { Headers: new (lines: unknown[]) => unknown };
  const defaults = fromZoneMta('./config/default.js') as { plugins: Record<string, unknown> };
  const loader = new PluginHandler({
    logger: { info: () => undefined, error: () => undefined }, context: 'main', log: {}, db: {},
    corePluginsPath: join(zoneMtaDir, 'plugins'),
    plugins: { 'core/email-bounce': defaults.plugins['core/email-bounce'] },
  });
  loader.queue = { generateId: (cb: (err: null, id: string) => void) => cb(null, 'dsn') };
  await new Promise<void>((ok) => loader.load(ok));
  let dropped: { envelope: { from: string; to: string }; message: string } | undefined;
  const maildrop = {
    add(envelope: { from: string; to: string }, stream: NodeJS.ReadableStream, done: (err?: Error) => void) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => { dropped = { envelope, message: Buffer.concat(chunks).toString() }; done(); });
    },
  };
  await loader.runHooks('queue:bounce', [{ ...report, headers: new Headers(report.headers ?? []) }, maildrop]);
  if (dropped === undefined) throw new Error('ZoneMTA made no bounce message');
  return dropped;
}
