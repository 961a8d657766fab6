// test/run.mjs, run on fixture suites: it streams results as they happen, prints node's summary, and
// fails a run whose tests a failing hook cancelled (node 20 exits 0 for those).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';

const root = resolve(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'smtp-intercept-runner-'));
after(() => rmSync(dir, { recursive: true, force: true }));
mkdirSync(join(dir, 'test'));
symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
const release = join(dir, 'release');

writeFileSync(join(dir, 'test', 'streaming.test.ts'), `
import { existsSync } from 'node:fs';
import { it } from 'node:test';
it('first', () => {});
// Finishes only once the parent has seen "first" reported, which a buffering runner never shows.
it('second', async () => { while (!existsSync(${JSON.stringify(release)})) await new Promise((r) => setTimeout(r, 20)); });
`);
writeFileSync(join(dir, 'test', 'cancelled.test.ts'), `
import { before, describe, it } from 'node:test';
describe('suite', () => {
  before(() => { throw new Error('hook failed'); });
  it('never runs', () => {});
});
`);

function run(filter: string, onLine: (line: string) => void = () => undefined): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // Without NODE_TEST_CONTEXT, which would make the nested runner report to this one instead of stdout.
  const { NODE_TEST_CONTEXT: _context, ...env } = process.env;
  const child = spawn(process.execPath, [join(root, 'test', 'run.mjs'), filter], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); for (const line of c.toString().split('\n')) onLine(line); });
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((r) => child.once('close', (code) => { clearTimeout(timer); r({ code, stdout, stderr }); }));
}

describe('test/run.mjs', () => {
  it('streams each result as it happens and prints the closing summary', async () => {
    const { code, stdout } = await run('streaming', (line) => { if (/^ok 1 - first/.test(line)) writeFileSync(release, ''); });
    assert.ok(existsSync(release), `the first result was shown while the second test ran:\n${stdout}`);
    assert.equal(code, 0, stdout);
    for (const name of ['tests 2', 'pass 2', 'fail 0', 'cancelled 0']) assert.match(stdout, new RegExp(`^# ${name}$`, 'm'));
  });

  it('fails the run when a failing hook cancels tests', async () => {
    const { code, stdout, stderr } = await run('cancelled');
    assert.equal(code, 1);
    assert.match(stdout, /^# cancelled 1$/m);
    assert.match(stderr, /1 test\(s\) were cancelled \(a hook failed\): failing the run/);
  });
});
