/**
 * @internal The ready Haraka plugin's set-up from `config/smtp-intercept.ini`: an interceptor (rules in
 * a FileStore or memory) and, when configured, the REST API on its own loopback port.
 */
import { createServer } from 'node:http';
import { resolve } from 'node:path';
import { createErrorsHandler } from '../http/index.js';
import { Interceptor } from '../index.js';
import { FileStore } from '../stores/file.js';
import type { HarakaInterceptOptions, HarakaPluginHost } from './haraka.js';

interface Ini {
  main?: Record<string, string | boolean | undefined>;
  http?: Record<string, string | undefined>;
  routes?: Record<string, string>;
}

/** Reads the ini file and starts what it names. */
export async function fromHarakaConfig(host: HarakaPluginHost): Promise<{
  interceptor: Interceptor; options: HarakaInterceptOptions; close: () => Promise<void>; summary: string;
}> {
  const ini = (host.config.get('smtp-intercept.ini', { booleans: ['+main.resolve_mx'] }) ?? {}) as Ini;
  const main = ini.main ?? {};
  // Haraka's ini reader gives numbers for numeric values (ports).
  const str = (v: unknown) => (typeof v === 'number' ? String(v) : typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);
  const rulesFile = str(main['rules_file']);
  const interceptor = new Interceptor(rulesFile === undefined ? {} : { store: new FileStore(resolve(process.env['HARAKA'] ?? '.', rulesFile)) });
  await interceptor.ready();
  const routes: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [domain, target] of Object.entries(ini.routes ?? {})) routes[domain.toLowerCase()] = String(target);
  const bind = str(main['bind']);
  const options: HarakaInterceptOptions = {
    poolNote: str(main['pool_note']) ?? 'pool',
    tagsNote: str(main['tags_note']) ?? 'tags',
    bindNote: str(main['bind_note']) ?? 'bind',
    ...(bind === undefined ? {} : { bind }),
    routes,
    resolveMx: main['resolve_mx'] !== false,
  };
  const port = str(ini.http?.['port']);
  if (port === undefined || port === '0') {
    return { interceptor, options, close: () => interceptor.close(), summary: `smtp-intercept: ready, ${rulesFile ?? 'rules in memory'}` };
  }
  const token = str(ini.http?.['token']);
  const handler = createErrorsHandler(interceptor, token === undefined ? { auth: false } : { tokens: [token] });
  const server = createServer(handler);
  const listenHost = str(ini.http?.['host']) ?? '127.0.0.1';
  await new Promise<void>((ok, fail) => { server.once('error', fail); server.listen(Number(port), listenHost, () => ok()); });
  return {
    interceptor,
    options,
    close: async () => { server.close(); await interceptor.close(); },
    summary: `smtp-intercept: ready, REST API on http://${listenHost}:${port}/v1/errors`,
  };
}
