// The `smtp-intercept` CLI as a child process: start-up lines parsed, output kept, and every child
// killed when the test file ends (a failed assertion must not leave a server holding the run open).
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { after } from 'node:test';

const cli = resolve(import.meta.dirname, '../../src/cli/index.ts');
const children = new Set<ChildProcess>();
after(() => { for (const child of children) child.kill('SIGKILL'); });

/** A CLI child: output so far, printed listener authorities, exit code once exited. */
export interface Cli {
  child: ChildProcess;
  output: string;
  /** `host:port` as printed on the `smtp listening on` / `http listening on` lines. */
  smtp: string;
  http: string;
  smtpPort: number;
  httpPort: number;
  exited: Promise<number | null>;
}

/** Another user to run the CLI as (the test must run as root): file permissions bind only non-root users. */
export interface RunAs { uid: number; gid: number }

/** Spawns the CLI with `args` (as `user` when given); resolves once it printed its listeners or exited. */
export async function startCli(args: string[], env: Record<string, string> = {}, user?: RunAs): Promise<Cli> {
  const child = spawn(process.execPath, ['--import', 'tsx', cli, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], ...user });
  children.add(child);
  const running: Cli = { child, output: '', smtp: '', http: '', smtpPort: 0, httpPort: 0, exited: new Promise((r) => child.once('exit', (code) => { children.delete(child); r(code); })) };
  child.stdout!.on('data', (c: Buffer) => { running.output += c.toString(); });
  child.stderr!.on('data', (c: Buffer) => { running.output += c.toString(); });
  const deadline = Date.now() + 20_000;
  while (!/http listening on \S+\n/.test(running.output) && child.exitCode === null) {
    if (Date.now() > deadline) throw new Error(`CLI did not start: ${running.output}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  running.smtp = /smtp listening on (\S+)\n/.exec(running.output)?.[1] ?? '';
  running.http = /http listening on (\S+)\n/.exec(running.output)?.[1] ?? '';
  running.smtpPort = Number(/:(\d+)$/.exec(running.smtp)?.[1] ?? 0);
  running.httpPort = Number(/:(\d+)$/.exec(running.http)?.[1] ?? 0);
  return running;
}

/**
 * The first output line `matches` accepts, waiting for it up to `timeoutMs`: stderr and an HTTP answer
 * travel on different pipes, so a line written before the answer may be read after it.
 */
export async function waitForLine(running: Cli, matches: (line: string) => boolean, timeoutMs = 5000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = running.output.split('\n').find(matches);
    if (line !== undefined) return line;
    if (Date.now() > deadline) throw new Error(`no such line within ${timeoutMs} ms; output:\n${running.output}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Runs the CLI to its exit (killed after `timeoutMs`: code `'timeout'`); resolves with the code and output. */
export async function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 10_000, user?: RunAs): Promise<{ code: number | null | 'timeout'; output: string }> {
  const running = await startCli(args, env, user);
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([running.exited, new Promise<'timeout'>((r) => { timer = setTimeout(() => r('timeout'), timeoutMs); })]);
  clearTimeout(timer);
  if (code === 'timeout') running.child.kill('SIGKILL');
  return { code, output: running.output };
}
