/**
 * @internal The ready ZoneMTA plugin's set-up from its `plugins` entry: an interceptor whose rules live
 * in Redis (ZoneMTA runs several processes, so rules must be shared), and the REST API in the main process.
 */
import { createServer } from 'node:http';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { createErrorsHandler } from '../http/index.js';
import { Interceptor, SmtpInterceptError } from '../index.js';
import { RedisStore } from '../stores/redis.js';
import type { ZoneMtaPluginApp } from './zonemta.js';

function invalid(field: string, message: string): SmtpInterceptError {
  return new SmtpInterceptError('invalid_option', `smtp-intercept plugin config: ${field} ${message}`);
}

function text(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw invalid(field, 'must be a string');
  return value;
}

/** Reads the plugin config and starts what it names. */
export async function fromZoneMtaConfig(app: ZoneMtaPluginApp, context: string): Promise<{
  interceptor: Interceptor; tagHeader: string | undefined; close: () => Promise<void>; summary: string;
}> {
  const config = app.config;
  const url = text(config['redis'], 'redis');
  const own = app.redis as Redis | undefined;
  if (url === undefined && (typeof own !== 'object' || own === null)) {
    throw invalid('redis', 'is missing: the rules are shared through Redis (a redis:// URL), and ZoneMTA has given the plugin no connection');
  }
  const redis = url ?? own!;
  const prefix = text(config['prefix'], 'prefix') ?? 'smtp-intercept';
  const instance = text(config['instance'], 'instance') ?? hostname();
  const tagHeader = text(config['tagHeader'], 'tagHeader');
  const api = config['api'];
  if (api !== undefined && (typeof api !== 'object' || api === null)) throw invalid('api', 'must be an object { port, host, token }');
  const { port, host = '127.0.0.1', token } = (api ?? {}) as Record<string, unknown>;
  if (port !== undefined && (!Number.isInteger(port) || (port as number) < 0 || (port as number) > 65535)) throw invalid('api.port', 'must be a port number');
  text(host, 'api.host');
  text(token, 'api.token');

  // Cluster rules are shared by every ZoneMTA instance; instance rules by the processes of this one.
  const stores = [new RedisStore({ redis, prefix: `${prefix}:instance:${instance}` }), new RedisStore({ redis, prefix })];
  const interceptor = new Interceptor({ store: stores[0], clusterStore: stores[1] });
  const closeAll = async () => {
    await interceptor.close();
    await Promise.all(stores.map((s) => s.close()));
  };
  try {
    await interceptor.ready();
  } catch (err) {
    await closeAll();
    throw err;
  }
  // The REST API runs once, in the main process: the senders see its changes through Redis.
  if (context !== 'main' || port === undefined) {
    return { interceptor, tagHeader, close: closeAll, summary: `ready (${context}), rules in Redis under ${prefix}` };
  }
  const handler = createErrorsHandler(interceptor, token === undefined ? { auth: false } : { tokens: [token as string] });
  const server = createServer(handler);
  try {
    await new Promise<void>((ok, fail) => { server.once('error', fail); server.listen(port as number, host as string, () => ok()); });
  } catch (err) {
    await closeAll();
    throw err;
  }
  const address = server.address();
  const listening = typeof address === 'object' && address !== null ? address.port : port;
  return {
    interceptor,
    tagHeader,
    close: async () => { await new Promise((ok) => server.close(ok)); await closeAll(); },
    summary: `ready (main), REST API on http://${host as string}:${String(listening)}/v1/errors`,
  };
}
