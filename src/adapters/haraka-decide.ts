/**
 * @internal The decision for one Haraka delivery, made in the process that holds the rules (the single
 * Haraka process, or the primary of a cluster on behalf of its workers): the rule input `ip` from the
 * route or DNS, the per-phase script, and the MX to answer `get_mx` with.
 */
import { lookup, resolveMx } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Attempt, Interceptor } from '../index.js';
import { type PlainReply, ScriptedMx, scriptDelivery } from './scripted-mx.js';

/** An MX as Haraka's `get_mx` takes it (haraka-net-utils `HarakaMx` fields). */
export interface HarakaMxRoute {
  exchange: string;
  port: number;
  priority: number;
  bind?: string;
  bind_helo?: string;
}

/** Where the rule inputs of a delivery come from. */
export interface HarakaInterceptOptions {
  /** Key of the transaction notes (`todo.notes`, dotted paths allowed) holding the pool. @default 'pool' */
  poolNote?: string;
  /** Key of the notes holding the tags: a string (comma separated) or an array. @default 'tags' */
  tagsNote?: string;
  /** Key of the notes holding the local address to send from; else `bind`. @default 'bind' */
  bindNote?: string;
  /** Local address deliveries are sent from: the rule input `mta`, and `bind` of routed MXs. */
  bind?: string;
  /** Static routes, `domain -> host[:port]`: the plugin answers `get_mx` for these domains itself. */
  routes?: Readonly<Record<string, string>>;
  /**
   * Look up the MX of other domains in DNS to know the rule input `ip` (the first MX's first
   * address); Haraka (or a later `get_mx` plugin) still routes them. @default true
   */
  resolveMx?: boolean;
  /** Reply to recipients no rule forces in a delivery that is routed to the fake MX. */
  unforcedReply?: PlainReply;
}

const DEFAULT_UNFORCED: PlainReply = {
  code: 451, extended: '4.3.0', description: 'smtp-intercept: deferred with a forced recipient of the same message',
};

function parseRoute(route: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(route.trim());
  if (!m) throw new Error(`smtp-intercept: route "${route}" is not host[:port]`);
  return { host: m[1]!, port: m[2] === undefined ? 25 : Number(m[2]) };
}

/** The first MX of `domain`: its host name (the attempt's `mx`) and address (the attempt's `ip`). */
async function firstMx(domain: string): Promise<{ mx?: string; ip?: string }> {
  let exchange: string | undefined;
  try {
    const mxs = (await resolveMx(domain)).sort((a, b) => a.priority - b.priority);
    exchange = mxs[0]?.exchange;
    if (!exchange) return {};
    if (isIP(exchange)) return { ip: exchange };
    return { mx: exchange, ip: (await lookup(exchange)).address };
  } catch {
    // Haraka reports DNS failures itself; ip (and, without an exchange, mx) rules simply cannot match.
    return exchange === undefined ? {} : { mx: exchange };
  }
}

/** The configured route of a domain as a `get_mx` answer, if it has one. */
export function configuredRoute(options: HarakaInterceptOptions, domain: string, mta: string | undefined): HarakaMxRoute | undefined {
  const routes = options.routes;
  const key = domain.toLowerCase();
  // Own keys only: routes that crossed the IPC channel are a plain object (`constructor` is a domain).
  if (routes === undefined || !Object.hasOwn(routes, key)) return undefined;
  const route = routes[key]!;
  const target = parseRoute(route);
  return { exchange: target.host, port: target.port, priority: 0, ...(mta === undefined ? {} : { bind: mta }) };
}

/** Decides deliveries against one interceptor, routing forced ones to its own fake MX. */
export class HarakaDecider {
  readonly #mx = new ScriptedMx();

  constructor(readonly interceptor: Interceptor, readonly options: HarakaInterceptOptions) {}

  /**
   * The MX to answer `get_mx` with: the fake MX when a rule forces something, the configured route, or
   * `undefined` (Haraka routes it). Never rejects: a bad route or an attempt the engine refuses (say a
   * malformed note) is reported to `logerror` and the delivery goes out unchecked, so the queue never
   * stalls on the plugin.
   */
  async decide(domain: string, base: Attempt, recipients: readonly string[], logerror: (msg: string) => void): Promise<HarakaMxRoute | undefined> {
    let real: HarakaMxRoute | undefined;
    try {
      real = configuredRoute(this.options, domain, base.mta);
      const remote = real !== undefined ? (isIP(real.exchange) ? { ip: real.exchange } : { mx: real.exchange })
        : this.options.resolveMx === false ? {} : await firstMx(domain);
      const script = scriptDelivery(this.interceptor, { ...base, ...remote }, recipients, this.options.unforcedReply ?? DEFAULT_UNFORCED);
      if (script === undefined) return real;
      const fake = await this.#mx.route(script);
      return { exchange: fake.host, port: fake.port, priority: 0 };
    } catch (err) {
      logerror(`smtp-intercept: delivery to ${domain} not checked: ${String(err)}`);
      return real;
    }
  }

  /** Closes the fake MX's ports and sessions. */
  close(): Promise<void> {
    return this.#mx.close();
  }
}
