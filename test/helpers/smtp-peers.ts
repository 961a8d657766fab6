// SMTP clients and servers this project did not write, located loudly: a missing one fails the test
// with how to install it (`.ci/run` installs them all).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
/** Where `.ci/run` extracts Debian's postfix package (git-ignored); POSTFIX_ROOT overrides it. */
const POSTFIX = process.env['POSTFIX_ROOT'] ?? join(ROOT, '.tmp/postfix');

/** A command and the environment it needs. */
export interface Peer { readonly cmd: string; readonly env: NodeJS.ProcessEnv }

/** A system binary at a fixed path, or an error saying how to install it. */
export function systemBinary(path: string, debianPackage: string): Peer {
  if (!existsSync(path)) throw new Error(`${path} not found: install the Debian package ${debianPackage} (apt-get install ${debianPackage}; .ci/run does it)`);
  return { cmd: path, env: process.env };
}

/** Postfix's `smtp-source` or `smtp-sink`, run from the extracted package with its shared libraries. */
export function postfixTool(name: 'smtp-source' | 'smtp-sink'): Peer {
  const cmd = join(POSTFIX, 'usr/sbin', name);
  if (!existsSync(cmd)) {
    throw new Error(`${cmd} not found: run .ci/run, or extract Debian's postfix package yourself: `
      + `(mkdir -p .tmp && cd .tmp && apt-get download postfix && dpkg -x postfix_*.deb postfix)`);
  }
  return { cmd, env: { ...process.env, LD_LIBRARY_PATH: join(POSTFIX, 'usr/lib/postfix') } };
}

/** Runs a peer to completion without blocking the event loop (the server under test runs in this process). */
export function runPeer(peer: Peer, args: readonly string[], timeoutMs = 60_000): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(peer.cmd, args, { env: peer.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${peer.cmd} ${args.join(' ')} ran over ${timeoutMs} ms; stderr: ${stderr}`)); }, timeoutMs);
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('close', (status) => { clearTimeout(timer); resolvePromise({ status, stdout, stderr }); });
  });
}
