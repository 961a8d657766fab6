// A real redis-server on a free loopback port, with its data in a temporary directory (append-only
// file fsynced on every write, so a restart keeps every acknowledged change).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function redisBinary(): string {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return 'redis-server';
  } catch {
    throw new Error('redis-server is not installed: these tests need a real Redis. Install it with `apt-get install redis-server` (Debian/Ubuntu) or `brew install redis`; .ci/run installs it on CI.');
  }
}

/** A loopback port free right now, for servers that cannot listen on port 0 and report it. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** SIGKILLs the server (no shutdown save; the append-only file has every acknowledged write). */
  kill(): Promise<void>;
  /** Starts it again on the same port and data directory. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<RedisServer> {
  const binary = redisBinary();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'smtp-intercept-redis-'));
  let child: ChildProcess | undefined;
  const launch = async () => {
    child = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--protected-mode', 'yes'], { stdio: ['ignore', 'pipe', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      let output = '';
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) { child!.stdout!.off('data', onData); resolve(); }
      };
      child!.stdout!.on('data', onData);
      child!.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${output}`)));
    });
    child.stdout!.resume();
    child.stderr!.resume();
  };
  const kill = async () => {
    const c = child;
    if (!c || c.exitCode !== null) return;
    c.removeAllListeners('exit');
    const exited = new Promise((resolve) => c.once('exit', resolve));
    c.kill('SIGKILL');
    await exited;
  };
  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill,
    restart: launch,
    stop: async () => { await kill(); rmSync(dir, { recursive: true, force: true }); },
  };
}
