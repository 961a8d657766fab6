/**
 * `smtp-intercept/zonemta`: a ZoneMTA plugin. Its `sender:connect` hook checks every connection ZoneMTA
 * opens for a delivery and, when a rule forces a result, hands ZoneMTA a connection to an in-process fake
 * MX that answers with the forced replies. ZoneMTA then classifies them itself, exactly as the same reply
 * from a remote MX: deferred with its `deferTimes`, bounced, or delivered. This module requires none of
 * ZoneMTA's packages.
 */
import { randomBytes } from 'node:crypto';
import { isIP, isIPv6 } from 'node:net';
import type { Attempt, Interceptor } from '../index.js';
import { type PlainReply, ScriptedMx, scriptDelivery } from './scripted-mx.js';

/** A sending address of a zone, as ZoneMTA's `SendingZone.getAddress` gives it. */
export interface ZoneMtaAddress {
  address: string;
  name?: string;
}

/** The parts of a ZoneMTA delivery (one recipient of one message) the plugin reads and sets. */
export interface ZoneMtaDelivery {
  id: string;
  seq: string;
  /** Recipient domain. */
  domain: string;
  /** Recipient address as queued. */
  recipient: string;
  /** Sending zone: the rule input `pool`. */
  sendingZone?: string;
  /** The envelope ZoneMTA sends; a plugin may have rewritten `to`. `from` is `''` for the null sender. */
  envelope?: { from?: string; to?: string | readonly string[] };
  /** MX hosts a routing plugin set (ZoneMTA's own resolution names the MX only after connecting). */
  mx?: readonly { exchange?: string }[] | { exchange?: string };
  /** The message headers (mailsplit `Headers`). */
  headers: { getFirst(key: string): string };
  zoneAddress?: ZoneMtaAddress;
  zoneAddressIPv4?: ZoneMtaAddress;
  zoneAddressIPv6?: ZoneMtaAddress;
  /** Key of ZoneMTA's connection cache; the plugin gives forced deliveries their own. */
  connectionKey?: string;
  /** Skips MTA-STS; set for deliveries a rule forces (the fake MX offers no TLS). */
  skipSTS?: boolean;
}

/** What ZoneMTA's `sender:connect` hook gets: the options of the TCP connection about to be opened. */
export interface ZoneMtaConnectOptions {
  /** The MX address: the rule input `ip`. */
  host: string;
  port: number;
  /** The local address (zone address): the rule input `mta`. */
  localAddress?: string;
  localHostname?: string | false;
}

/** The logger ZoneMTA gives plugins (npmlog). */
export interface ZoneMtaLogger {
  info(prefix: string, message: string, ...args: unknown[]): void;
  error(prefix: string, message: string, ...args: unknown[]): void;
}

/** The object ZoneMTA passes to a plugin's `init` (a wild-plugins `PluginInstance`). */
export interface ZoneMtaPluginApp {
  /** This plugin's entry of ZoneMTA's `plugins` config. */
  config: Record<string, unknown>;
  addHook(name: string, action: (...args: never[]) => Promise<void>): void;
  logger: ZoneMtaLogger;
  /** ZoneMTA's own Redis connection (ioredis), when ZoneMTA has connected it. */
  redis?: unknown;
  /** The plugin manager; `context` is the ZoneMTA process kind: `main`, `sender` or `receiver`. */
  manager?: { context?: string };
}

/** Where the rule inputs of a delivery come from. */
export interface ZoneMtaInterceptOptions {
  /** Header holding the delivery's tags (comma separated): the rule input `tag`. @default 'X-Campaign' */
  tagHeader?: string;
}

/** A ZoneMTA plugin module: `title` and `init`. */
export interface ZoneMtaPlugin {
  readonly title: string;
  init(app: ZoneMtaPluginApp): Promise<void>;
  /** Closes the fake MX and what `init` started (the REST API, the store connections). */
  close(): Promise<void>;
}

const LOG = 'SMTP-Intercept';
// A ZoneMTA delivery has one recipient: this reply is never given, but a script needs one.
const UNFORCED: PlainReply = { code: 451, extended: '4.3.0', description: 'smtp-intercept: recipient not in the delivery script' };
const OWN_KEY = 'smtp-intercept:';

function tagsOf(delivery: ZoneMtaDelivery, header: string): string[] | undefined {
  const value = delivery.headers.getFirst(header);
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  return value.split(',').map((t) => t.trim()).filter(Boolean);
}

function recipientOf(delivery: ZoneMtaDelivery): string {
  const to = delivery.envelope?.to;
  const first = Array.isArray(to) ? (to as readonly string[])[0] : (to as string | undefined);
  return first ?? delivery.recipient;
}

function localAddresses(delivery: ZoneMtaDelivery): (string | undefined)[] {
  const all = [delivery.zoneAddress, delivery.zoneAddressIPv4, delivery.zoneAddressIPv6].map((a) => a?.address).filter((a) => a !== undefined);
  return all.length === 0 ? [undefined] : [...new Set(all)];
}

/**
 * Creates the ZoneMTA plugin. Without `interceptor`, `init` builds one from the plugin's entry in
 * ZoneMTA's config (see docs/zonemta.md): rules in Redis, shared by the main and sender processes, and
 * the REST API in the main process.
 *
 * @example
 * ```js
 * // a plugin file of your own, listed in ZoneMTA's `plugins` config with enabled: 'sender'
 * module.exports = require('smtp-intercept/zonemta').createZoneMtaPlugin({ interceptor, tagHeader: 'X-Campaign' })
 * ```
 */
export function createZoneMtaPlugin(given?: { interceptor: Interceptor } & ZoneMtaInterceptOptions): ZoneMtaPlugin {
  let interceptor = given?.interceptor;
  let tagHeader = given?.tagHeader ?? 'X-Campaign';
  let mx: ScriptedMx | undefined;
  let stop: (() => Promise<void>) | undefined;
  let starting: Promise<void> | undefined;
  // Rules selecting on `ip` can only be decided at connect time (see sender:fetch).
  let ipRules = 0;

  const follow = (ic: Interceptor) => {
    ipRules = ic.list().filter((r) => r.ip !== undefined).length;
    ic.on('rule:added', (r) => { if (r.ip !== undefined) ipRules++; });
    ic.on('rule:removed', (r) => { if (r.ip !== undefined) ipRules--; });
  };

  const base = (delivery: ZoneMtaDelivery): Attempt => ({
    pool: delivery.sendingZone,
    domain: delivery.domain,
    recipient: recipientOf(delivery),
    tags: tagsOf(delivery, tagHeader),
    sender: senderOf(delivery),
    mx: mxOf(delivery),
  });

  return {
    title: 'smtp-intercept',

    async init(app) {
      const context = app.manager?.context ?? 'sender';
      if (context !== 'sender' && context !== 'main') {
        app.logger.info(LOG, 'nothing to do in the %s context (enable it in "main" and "sender")', context);
        return;
      }
      if (context === 'sender') {
        mx = new ScriptedMx();
        app.addHook('sender:fetch', async (delivery: ZoneMtaDelivery) => {
          if (starting !== undefined) await starting;
          if (interceptor === undefined) return;
          try {
            // ZoneMTA reuses a cached connection before any connect hook runs: a delivery that may be
            // forced gets its own cache key, so it never borrows a connection to the real MX.
            const attempt = base(delivery);
            // Without a phase, rules of every phase match.
            const likely = localAddresses(delivery).some((mta) => interceptor!.explain({ ...attempt, mta }).winner !== undefined);
            if (likely || ipRules > 0) delivery.connectionKey = OWN_KEY + randomBytes(9).toString('hex');
            if (likely) delivery.skipSTS = true;
          } catch (err) {
            app.logger.error(LOG, '%s.%s not checked: %s', delivery.id, delivery.seq, String(err));
          }
        });
        app.addHook('sender:connect', async (delivery: ZoneMtaDelivery, options: ZoneMtaConnectOptions) => {
          if (starting !== undefined) await starting;
          const ic = interceptor;
          if (ic === undefined || mx === undefined) return;
          try {
            const mta = options.localAddress ?? (delivery.zoneAddress ?? delivery.zoneAddressIPv4)?.address;
            const script = scriptDelivery(ic, { ...base(delivery), mta, ip: options.host }, [recipientOf(delivery)], UNFORCED);
            if (script === undefined) return;
            const fake = await mx.route(script);
            app.logger.info(LOG, '%s.%s FORCED mx=%s routed to the fake MX on port %s', delivery.id, delivery.seq, options.host, fake.port);
            // Read when the connection is cached after the delivery: the fake MX's is never reused.
            if (!delivery.connectionKey?.startsWith(OWN_KEY)) delivery.connectionKey = OWN_KEY + randomBytes(9).toString('hex');
            options.host = fake.host;
            options.port = fake.port;
            // An IPv6 zone address cannot reach the IPv4 loopback port.
            if (options.localAddress !== undefined && isIPv6(options.localAddress)) delete options.localAddress;
          } catch (err) {
            // A malformed attempt or a failed route must not fail the delivery: it goes to the real MX.
            app.logger.error(LOG, '%s.%s not checked: %s', delivery.id, delivery.seq, String(err));
          }
        });
      }
      if (interceptor !== undefined) return follow(interceptor);
      const started = import('./zonemta-config.js').then(({ fromZoneMtaConfig }) => fromZoneMtaConfig(app, context));
      starting = started.then((s) => {
        interceptor = s.interceptor;
        tagHeader = s.tagHeader ?? tagHeader;
        stop = s.close;
        follow(s.interceptor);
        app.logger.info(LOG, s.summary);
      }).catch((err: unknown) => {
        // Without its rules the plugin checks nothing: deliveries go out as if it were not installed.
        app.logger.error(LOG, 'not started, deliveries are not checked: %s', String(err));
      }).finally(() => { starting = undefined; });
      await starting;
    },

    async close() {
      await mx?.close();
      await stop?.();
    },
  };
}

/** The ready plugin's title, for ZoneMTA's plugin loader (`modules/smtp-intercept/zonemta`). */
export const title = 'smtp-intercept';

// Plugins started through `init`, for `close`.
const started = new Set<ZoneMtaPlugin>();

/** The delivery's envelope sender as rules see it: `<>` for the null sender. */
function senderOf(delivery: ZoneMtaDelivery): string | undefined {
  const from = delivery.envelope?.from;
  return from === undefined ? undefined : from === '' ? '<>' : from;
}

/** The MX host name a routing plugin chose (`delivery.mx`), unless it is an IP address. */
function mxOf(delivery: ZoneMtaDelivery): string | undefined {
  const first = Array.isArray(delivery.mx) ? (delivery.mx as readonly { exchange?: string }[])[0] : delivery.mx as { exchange?: string } | undefined;
  const exchange = first?.exchange;
  return typeof exchange === 'string' && exchange !== '' && isIP(exchange) === 0 ? exchange : undefined;
}

/** The ready plugin: set up from its entry in ZoneMTA's `plugins` config (see docs/zonemta.md). */
export function init(app: ZoneMtaPluginApp): Promise<void> {
  const plugin = createZoneMtaPlugin();
  started.add(plugin);
  return plugin.init(app);
}

/** Closes what the ready plugin started in this process (ZoneMTA never calls it; tests and embedders do). */
export async function close(): Promise<void> {
  const plugins = [...started];
  started.clear();
  await Promise.all(plugins.map((p) => p.close()));
}
