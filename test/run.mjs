// Runs every test/**/*.test.ts file with node's test runner (Node 20 has no glob support for --test).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const files = readdirSync('test', { recursive: true, withFileTypes: true })
  .filter((entry) => entry.isFile() && entry.name.endsWith('.test.ts'))
  .map((entry) => join(entry.parentPath ?? entry.path, entry.name))
  .sort();
if (files.length === 0) {
  console.error('no test files found under test/');
  process.exit(1);
}
const only = process.argv.slice(2);
const selected = only.length > 0 ? files.filter((f) => only.some((o) => f.includes(o))) : files;
const { status, stdout } = spawnSync(process.execPath, ['--import', 'tsx', '--test', ...selected], { stdio: ['inherit', 'pipe', 'inherit'], maxBuffer: 256 * 1024 * 1024 });
process.stdout.write(stdout);
// Node 20 exits 0 when a failing hook cancels tests: a cancelled test is a failure here.
const count = (name) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(stdout.toString())?.[1] ?? 0);
if (count('cancelled') > 0) console.error(`${count('cancelled')} test(s) were cancelled (a hook failed): failing the run`);
process.exit(status !== 0 || count('cancelled') > 0 || count('fail') > 0 ? 1 : 0);
