/**
 * A mail host in a child process for the adapter tests: its output kept for failure messages, the
 * reports it sends over IPC, waiting for one, and stopping it.
 */
import type { ChildProcess } from 'node:child_process';

/**
 * One check of the plugin in the child: the child subscribes to the `smtp-intercept:check:result`
 * diagnostics channel and sends `{ check }` over IPC.
 */
export interface CheckReport {
  recipient?: string;
  phase?: string;
  /** The attempt's `tls`, `'absent'` when it has none. */
  tls: boolean | 'absent';
}

export class ChildHost<T> {
  readonly reports: T[] = [];
  /** The plugin's checks in the child, in order. */
  readonly checks: CheckReport[] = [];
  #output = '';
  readonly #waiters = new Set<() => void>();

  /** `accept` turns an IPC message into a report, or returns undefined for other messages. */
  constructor(readonly child: ChildProcess, private readonly name: string, accept: (message: unknown) => T | undefined) {
    child.stdout?.on('data', (d: Buffer) => { this.#output += d.toString(); });
    child.stderr?.on('data', (d: Buffer) => { this.#output += d.toString(); });
    child.on('message', (m) => {
      const check = (m as { check?: CheckReport } | null)?.check;
      if (check !== undefined) return void this.checks.push(check);
      const report = accept(m);
      if (report !== undefined) this.reports.push(report);
      for (const w of this.#waiters) w();
    });
  }

  log(): string {
    return this.#output;
  }

  /** Waits until `ready()` holds, failing with the child's output if it exits or takes over `timeoutMs`. */
  async started(ready: () => boolean, timeoutMs = 20_000): Promise<void> {
    const since = Date.now();
    while (!ready()) {
      if (this.child.exitCode !== null) throw new Error(`${this.name} exited (${this.child.exitCode}):\n${this.#output}`);
      if (Date.now() - since > timeoutMs) { this.child.kill('SIGKILL'); throw new Error(`${this.name} did not start in ${timeoutMs} ms:\n${this.#output}`); }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Resolves with the first report (seen or coming) that `match` accepts. */
  waitFor(match: (r: T) => boolean, timeoutMs = 20_000): Promise<T> {
    return new Promise((ok, fail) => {
      const check = () => {
        const found = this.reports.find(match);
        if (found) { clearTimeout(timer); this.#waiters.delete(check); ok(found); }
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        fail(new Error(`no matching ${this.name} report within ${timeoutMs} ms; saw ${JSON.stringify(this.reports)}\n${this.#output.slice(-4000)}`));
      }, timeoutMs);
      this.#waiters.add(check);
      check();
    });
  }

  /** SIGTERM, then SIGKILL after 3 s. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }
}
