/**
 * `smtp-intercept/haraka`: a Haraka outbound plugin. Its `get_mx` hook (priority -100, before other
 * routers) checks every delivery and routes one that a rule forces to an in-process fake MX answering
 * with the forced replies, so Haraka's own reply handling reports them: per recipient, `deferred` with a
 * retry, `bounce` with a DSN, `delivered`. Haraka, `smtp-server` are peers; this module requires neither
 * of Haraka's packages.
 */
import { lookup, resolveMx } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Attempt, Interceptor } from '../index.js';
import { type PlainReply, ScriptedMx, scriptDelivery } from './scripted-mx.js';

export type { PlainReply } from './scripted-mx.js';

/** haraka-constants: `next()` return codes. */
const CONT = 900;
const OK = 906;

/** An MX as Haraka's `get_mx` takes it (haraka-net-utils `HarakaMx` fields). */
export interface HarakaMxRoute {
  exchange: string;
  port: number;
  priority: number;
  bind?: string;
  bind_helo?: string;
}

/** The parts of a Haraka outbound `HMailItem` the plugin reads. */
export interface HMailLike {
  todo: {
    domain: string;
    rcpt_to: readonly { address: string | (() => string) }[];
    /** The envelope sender (an address-rfc2821 `Address`; no `user` for the null sender). */
    mail_from?: { user?: string | null; host?: string | null };
    notes?: Record<string, unknown> & { get?: (path: string) => unknown };
  };
}

/** The Haraka plugin object a hook runs on (`this`). */
export interface HarakaPluginHost {
  register_hook(hook: string, method: string, priority?: number): void;
  config: { get(name: string, type?: unknown): unknown };
  loginfo(...args: unknown[]): void;
  logerror(...args: unknown[]): void;
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

/** The plugin object; `Object.assign(exports, plugin)` in a Haraka plugin file. */
export interface HarakaPlugin {
  register(this: HarakaPluginHost): void;
  intercept_get_mx(this: HarakaPluginHost, next: (code?: number, mx?: HarakaMxRoute | HarakaMxRoute[]) => void, hmail: HMailLike, domain: string): void;
  shutdown(this: HarakaPluginHost): void;
}

const DEFAULT_UNFORCED: PlainReply = {
  code: 451, extended: '4.3.0', description: 'smtp-intercept: deferred with a forced recipient of the same message',
};

function note(notes: HMailLike['todo']['notes'], path: string): unknown {
  if (notes === undefined) return undefined;
  if (typeof notes.get === 'function') return notes.get(path);
  return path.split('.').reduce<unknown>((v, k) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), notes);
}

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

/** The envelope sender as rules see it: `<>` for the null sender. */
function senderOf(from: { user?: string | null; host?: string | null } | undefined): string | undefined {
  if (from === undefined) return undefined;
  return from.user ? `${from.user}@${from.host ?? ''}` : '<>';
}

/**
 * Creates the Haraka plugin. Without `interceptor`, `register` builds one from `smtp-intercept.ini`
 * (see docs/haraka.md): rules in `[main] rules_file` (a FileStore) or memory, REST API on `[http] port`.
 *
 * @example
 * ```js
 * // plugins/smtp-intercept.js in the Haraka directory
 * Object.assign(exports, require('smtp-intercept/haraka').createHarakaPlugin())
 * ```
 */
export function createHarakaPlugin(given?: { interceptor: Interceptor } & HarakaInterceptOptions): HarakaPlugin {
  let interceptor = given?.interceptor;
  let options: HarakaInterceptOptions = given ?? {};
  let mx: ScriptedMx | undefined;
  let stop: (() => Promise<void>) | undefined;
  let starting: Promise<void> | undefined;

  const plugin: HarakaPlugin = {
    register() {
      mx = new ScriptedMx();
      if (interceptor === undefined) {
        const started = import('./haraka-config.js').then(({ fromHarakaConfig }) => fromHarakaConfig(this));
        starting = started.then((s) => { interceptor = s.interceptor; options = s.options; stop = s.close; this.loginfo(s.summary); });
        // Without its rules the plugin checks nothing: deliveries go out as if it were not installed.
        starting = starting
          .catch((err: unknown) => this.logerror(`smtp-intercept: not started, deliveries are not checked: ${String(err)}`))
          .finally(() => { starting = undefined; });
      }
      this.register_hook('get_mx', 'intercept_get_mx', -100);
    },

    intercept_get_mx(next, hmail, domain) {
      // Haraka may load its queue before the rules are read: those deliveries wait for them.
      if (interceptor === undefined && starting !== undefined) {
        void starting.then(() => plugin.intercept_get_mx.call(this, next, hmail, domain));
        return;
      }
      const ic = interceptor;
      if (ic === undefined || mx === undefined) return next(CONT);
      const notes = hmail.todo.notes;
      const pool = note(notes, options.poolNote ?? 'pool');
      const rawTags = note(notes, options.tagsNote ?? 'tags');
      const bind = note(notes, options.bindNote ?? 'bind') ?? options.bind;
      const base: Attempt = {
        domain,
        sender: senderOf(hmail.todo.mail_from),
        pool: typeof pool === 'string' ? pool : undefined,
        mta: typeof bind === 'string' ? bind : undefined,
        tags: Array.isArray(rawTags) ? rawTags.map(String) : typeof rawTags === 'string' ? rawTags.split(',').map((t) => t.trim()).filter(Boolean) : undefined,
      };
      const recipients = hmail.todo.rcpt_to.map((r) => (typeof r.address === 'function' ? r.address() : String(r.address)));
      let real: HarakaMxRoute | undefined;

      (async () => {
        const route = options.routes?.[domain.toLowerCase()];
        const target = route === undefined ? undefined : parseRoute(route);
        if (target !== undefined) real = { exchange: target.host, port: target.port, priority: 0, ...(base.mta === undefined ? {} : { bind: base.mta }) };
        const remote = target !== undefined ? (isIP(target.host) ? { ip: target.host } : { mx: target.host })
          : options.resolveMx === false ? {} : await firstMx(domain);
        const script = scriptDelivery(ic, { ...base, ...remote }, recipients, options.unforcedReply ?? DEFAULT_UNFORCED);
        if (script === undefined) return real === undefined ? next(CONT) : next(OK, real);
        const fake = await mx!.route(script);
        next(OK, { exchange: fake.host, port: fake.port, priority: 0 });
      })().catch((err: unknown) => {
        // A bad route or an attempt the engine refuses (say a malformed note) must not stall the queue.
        this.logerror(`smtp-intercept: delivery to ${domain} not checked: ${String(err)}`);
        if (real === undefined) next(CONT);
        else next(OK, real);
      });
    },

    shutdown() {
      void mx?.close();
      void stop?.();
    },
  };
  return plugin;
}
