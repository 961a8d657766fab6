/**
 * `FileStore`: rules in one JSON file, written atomically. Each write goes to a temporary file that is
 * fsynced, renamed over the store file, and followed by an fsync of the directory, so a crash at any
 * moment leaves either the old or the new file, never a torn one. Writes are serialised.
 */
import { open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { type CounterDelta, restoreRule, type RuleJSON, type RuleStore, SmtpInterceptError, StoreUnavailableError, withCounters } from '../index.js';

interface FileShape {
  version: 1;
  rules: RuleJSON[];
}

let temporaryCounter = 0;

/**
 * Persists rules to a JSON file (one per interceptor scope: pass it as `store` or `clusterStore`).
 *
 * @example
 * ```ts
 * const ic = new Interceptor({ store: new FileStore('./smtp-intercept.json') })
 * await ic.ready() // rejects, naming the file, if it is unreadable or holds an invalid rule
 * ```
 */
export class FileStore implements RuleStore {
  /** The file's path. */
  readonly path: string;
  #rules: Map<string, RuleJSON> | undefined;
  #loading: Promise<Map<string, RuleJSON>> | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  /** Why the file may not be written: it exists but could not be understood. */
  #refused: Error | undefined;

  constructor(path: string) {
    if (typeof path !== 'string' || path === '') throw new SmtpInterceptError('invalid_option', 'FileStore needs a file path');
    this.path = path;
  }

  async load(): Promise<RuleJSON[]> {
    return [...(await this.#current()).values()];
  }

  put(rule: RuleJSON): Promise<void> {
    return this.#change((rules) => { rules.set(rule.id, rule); });
  }

  delete(ids: readonly string[]): Promise<void> {
    return this.#change((rules) => { for (const id of ids) rules.delete(id); });
  }

  clear(): Promise<void> {
    return this.#change((rules) => { rules.clear(); });
  }

  /** Adds hits and takes used applications of matching revisions (see `RuleStore.saveCounters`). */
  saveCounters(deltas: readonly CounterDelta[]): Promise<void> {
    return this.#change((rules) => {
      for (const delta of deltas) {
        const rule = rules.get(delta.id);
        if (!rule || (rule.revision ?? '') !== delta.revision) continue;
        const counted = withCounters(rule, delta);
        if (counted) rules.set(delta.id, counted);
        else rules.delete(delta.id); // used up
      }
    });
  }

  /** Waits for writes in flight. */
  async close(): Promise<void> {
    await this.#queue;
  }

  #current(): Promise<Map<string, RuleJSON>> {
    if (this.#rules) return Promise.resolve(this.#rules);
    this.#loading ??= this.#read().then((rules) => (this.#rules = rules), (err: unknown) => {
      this.#loading = undefined;
      throw err;
    });
    return this.#loading;
  }

  async #read(): Promise<Map<string, RuleJSON>> {
    await this.#removeStaleTemporaries();
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      throw new StoreUnavailableError(`cannot read rule file ${this.path}: ${(err as Error).message}`, { cause: err });
    }
    const refuse = (problem: string, cause?: unknown): never => {
      // The file is kept as it is: overwriting it would lose whatever it holds.
      this.#refused = new SmtpInterceptError('store_invalid', `rule file ${this.path} ${problem}; it was left untouched`, { cause });
      throw this.#refused;
    };
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      return refuse(`is not valid JSON (${(err as Error).message})`, err);
    }
    const shape = parsed as Partial<FileShape>;
    if (typeof parsed !== 'object' || parsed === null || shape.version !== 1 || !Array.isArray(shape.rules)) {
      return refuse('is not a smtp-intercept rule file (expected {"version":1,"rules":[...]})');
    }
    const rules = new Map<string, RuleJSON>();
    const now = Date.now();
    for (const [i, json] of shape.rules.entries()) {
      let rule;
      try {
        rule = restoreRule(json, now);
      } catch (err) {
        return refuse(`has an invalid rule at rules[${i}]: ${(err as Error).message}`, err);
      }
      if (rule) rules.set(rule.id, json); // expired rules are dropped
    }
    this.#refused = undefined; // the file was repaired: it may be written again
    return rules;
  }

  #change(edit: (rules: Map<string, RuleJSON>) => void): Promise<void> {
    const run = this.#queue.then(async () => {
      const current = await this.#current();
      if (this.#refused) throw this.#refused;
      const next = new Map(current);
      edit(next);
      await this.#write(next);
      this.#rules = next; // only once the new file is durable
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Removes temporary files of this store's naming left by processes that died mid-write (a live
   * process's, including this one's, may be a write in flight and are kept). Failures are ignored: a
   * leftover file costs disk space, never correctness.
   */
  async #removeStaleTemporaries(): Promise<void> {
    const dir = dirname(this.path);
    const prefix = `.${basename(this.path)}.`;
    const names = await readdir(dir).catch(() => [] as string[]);
    await Promise.all(names.map(async (name) => {
      const pid = temporaryPid(name, prefix);
      if (pid !== undefined && !alive(pid)) await rm(join(dir, name), { force: true }).catch(() => undefined);
    }));
  }

  async #write(rules: Map<string, RuleJSON>): Promise<void> {
    const dir = dirname(this.path);
    const temporary = join(dir, `.${basename(this.path)}.${process.pid}.${++temporaryCounter}.tmp`);
    const body: FileShape = { version: 1, rules: [...rules.values()] };
    try {
      const file = await open(temporary, 'w', 0o600);
      try {
        await file.writeFile(`${JSON.stringify(body, null, 1)}\n`);
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(temporary, this.path);
    } catch (err) {
      await rm(temporary, { force: true }).catch(() => undefined);
      throw new StoreUnavailableError(`cannot write rule file ${this.path}: ${(err as Error).message}`, { cause: err });
    }
    // After the rename the file holds the new set: a failed directory fsync cannot undo that, so it does
    // not fail the write (only a crash in the next instant could still lose the rename).
    await syncDirectory(dir).catch(() => undefined);
  }
}

/** The pid in a temporary file name `<prefix><pid>.<n>.tmp`, or undefined for any other name. */
function temporaryPid(name: string, prefix: string): number | undefined {
  if (!name.startsWith(prefix) || !name.endsWith('.tmp')) return undefined;
  const match = /^(\d+)\.(\d+)\.tmp$/.exec(name.slice(prefix.length));
  return match ? Number(match[1]) : undefined;
}

/** Whether a process with this pid exists (EPERM: it exists, owned by another user). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Makes a rename durable. Some platforms cannot fsync a directory; there the rename is as durable as it gets. */
async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EBADF') throw err;
  } finally {
    await handle?.close();
  }
}
