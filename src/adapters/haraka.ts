/**
 * `smtp-intercept/haraka`: a Haraka outbound plugin. Its `get_mx` hook (priority -100, before other
 * routers) checks every delivery and routes one that a rule forces to an in-process fake MX answering
 * with the forced replies, so Haraka's own reply handling reports them: per recipient, `deferred` with a
 * retry, `bounce` with a DSN, `delivered`. Haraka, `smtp-server` are peers; this module requires neither
 * of Haraka's packages.
 */
import cluster from 'node:cluster';
import type { Attempt, Interceptor } from '../index.js';
import { PrimaryLink, serveWorkers } from './haraka-cluster.js';
import { configuredRoute, HarakaDecider, type HarakaInterceptOptions, type HarakaMxRoute } from './haraka-decide.js';

export type { PlainReply } from './scripted-mx.js';
export type { HarakaInterceptOptions, HarakaMxRoute } from './haraka-decide.js';

/** haraka-constants: `next()` return codes. */
const CONT = 900;
const OK = 906;

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

/** The plugin object; `Object.assign(exports, plugin)` in a Haraka plugin file. */
export interface HarakaPlugin {
  register(this: HarakaPluginHost): void;
  intercept_get_mx(this: HarakaPluginHost, next: (code?: number, mx?: HarakaMxRoute | HarakaMxRoute[]) => void, hmail: HMailLike, domain: string): void;
  shutdown(this: HarakaPluginHost): void;
}

function note(notes: HMailLike['todo']['notes'], path: string): unknown {
  if (notes === undefined) return undefined;
  if (typeof notes.get === 'function') return notes.get(path);
  return path.split('.').reduce<unknown>((v, k) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), notes);
}

/** The rule inputs a delivery's notes give (the `ip` is added where the route is known). */
function attemptOf(hmail: HMailLike, domain: string, options: HarakaInterceptOptions): Attempt {
  const notes = hmail.todo.notes;
  const pool = note(notes, options.poolNote ?? 'pool');
  const rawTags = note(notes, options.tagsNote ?? 'tags');
  const bind = note(notes, options.bindNote ?? 'bind') ?? options.bind;
  return {
    domain,
    sender: senderOf(hmail.todo.mail_from),
    pool: typeof pool === 'string' ? pool : undefined,
    mta: typeof bind === 'string' ? bind : undefined,
    tags: Array.isArray(rawTags) ? rawTags.map(String) : typeof rawTags === 'string' ? rawTags.split(',').map((t) => t.trim()).filter(Boolean) : undefined,
  };
}

/** Where this process's deliveries are decided. */
type Decide = (domain: string, attempt: Attempt, recipients: string[]) => Promise<HarakaMxRoute | undefined>;

/** The envelope sender as rules see it: `<>` for the null sender. */
function senderOf(from: { user?: string | null; host?: string | null } | undefined): string | undefined {
  if (from === undefined) return undefined;
  return from.user ? `${from.user}@${from.host ?? ''}` : '<>';
}

/**
 * Creates the Haraka plugin. Without `interceptor`, `register` builds one from `smtp-intercept.ini`
 * (see docs/haraka.md): rules in `[main] rules_file` (a FileStore) or memory, REST API on `[http] port`.
 * In Haraka's cluster mode that happens in the primary process only, and the workers ask it for every
 * delivery's decision over Node's cluster IPC channel. With `interceptor`, every process decides with
 * the interceptor it was given.
 *
 * @example
 * ```js
 * // plugins/smtp-intercept.js in the Haraka directory
 * Object.assign(exports, require('smtp-intercept/haraka').createHarakaPlugin())
 * ```
 */
export function createHarakaPlugin(given?: { interceptor: Interceptor } & HarakaInterceptOptions): HarakaPlugin {
  let options: HarakaInterceptOptions = given ?? {};
  let decide: Decide | undefined;
  let starting: Promise<void> | undefined;
  let stop: (() => Promise<void>) | undefined;

  /** A Haraka cluster primary or a single process: the rules live here. */
  function startHere(host: HarakaPluginHost): void {
    const log = (msg: string) => host.logerror(msg);
    if (given !== undefined) {
      const decider = new HarakaDecider(given.interceptor, given);
      decide = (domain, attempt, recipients) => decider.decide(domain, attempt, recipients, log);
      stop = () => decider.close();
      return;
    }
    let failure: string | undefined;
    let close: (() => Promise<void>) | undefined;
    const started = import('./haraka-config.js').then(({ fromHarakaConfig }) => fromHarakaConfig(host)).then((s) => {
      const decider = new HarakaDecider(s.interceptor, s.options);
      options = s.options;
      decide = (domain, attempt, recipients) => decider.decide(domain, attempt, recipients, log);
      close = async () => { await decider.close(); await s.close(); };
      host.loginfo(s.summary);
    }, (err: unknown) => {
      // Said once, here, for the whole instance: the workers hear the reason and deliver unchecked.
      failure = `not started in the primary process: ${String(err)}`;
      host.logerror(`smtp-intercept: not started, deliveries are not checked: ${String(err)}`);
    });
    starting = started.finally(() => { starting = undefined; });
    // In Haraka's cluster mode the workers deliver and ask here (in a single process nobody asks).
    const unserve = serveWorkers(async (request) => {
      await started;
      if (decide === undefined) throw new Error(failure ?? 'smtp-intercept is not started in the primary process');
      if (request.op === 'hello') return options;
      return decide(request.domain, request.attempt, request.recipients);
    });
    stop = async () => {
      unserve();
      await started;
      await close?.();
    };
  }

  /** A worker of a Haraka cluster: the primary holds the rules and decides. */
  function startWorker(host: HarakaPluginHost): void {
    const link = new PrimaryLink();
    let failing = false;
    starting = link.hello().then((primary) => {
      options = primary;
      decide = (domain, attempt, recipients) => link.decide(domain, attempt, recipients).then((mx) => {
        if (failing) host.loginfo('smtp-intercept: the primary process answers again, deliveries are checked');
        failing = false;
        return mx;
      }, (err: unknown) => {
        // One line per outage, not one per delivery; each delivery still goes out as without the plugin.
        if (!failing) host.logerror(`smtp-intercept: deliveries of this worker are not checked: ${err instanceof Error ? err.message : String(err)}`);
        failing = true;
        try {
          return configuredRoute(options, domain, attempt.mta);
        } catch {
          return undefined; // a malformed route: the primary logged it when it read the ini
        }
      });
      host.loginfo(`smtp-intercept: worker ${process.pid} ready, rules in the primary process`);
    }, (err: unknown) => {
      // The primary has logged why it did not start (once, at error level); this worker just says so.
      host.loginfo(`smtp-intercept: worker ${process.pid} does not check deliveries: ${err instanceof Error ? err.message : String(err)}`);
    }).finally(() => { starting = undefined; });
    stop = async () => link.close();
  }

  const plugin: HarakaPlugin = {
    register() {
      if (given === undefined && cluster.isWorker) startWorker(this);
      else startHere(this);
      this.register_hook('get_mx', 'intercept_get_mx', -100);
    },

    intercept_get_mx(next, hmail, domain) {
      // Haraka may load its queue before the rules are read: those deliveries wait for them.
      if (decide === undefined && starting !== undefined) {
        void starting.then(() => plugin.intercept_get_mx.call(this, next, hmail, domain));
        return;
      }
      if (decide === undefined) return next(CONT);
      let attempt: Attempt;
      try {
        attempt = attemptOf(hmail, domain, options);
      } catch (err) {
        this.logerror(`smtp-intercept: delivery to ${domain} not checked: ${String(err)}`);
        return next(CONT);
      }
      const recipients = hmail.todo.rcpt_to.map((r) => (typeof r.address === 'function' ? r.address() : String(r.address)));
      void decide(domain, attempt, recipients).then((mx) => (mx === undefined ? next(CONT) : next(OK, mx)));
    },

    shutdown() {
      void stop?.();
    },
  };
  return plugin;
}
