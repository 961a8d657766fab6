// Runs every test/**/*.test.ts file with node's test runner (Node 20 has no glob support for --test),
// streaming the report as it happens and failing the run on cancelled tests.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

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
if (selected.length === 0) {
  console.error(`no test file path contains ${only.map((o) => `"${o}"`).join(' or ')}`);
  process.exit(1);
}
const child = spawn(process.execPath, ['--import', 'tsx', '--test', ...selected], { stdio: ['inherit', 'pipe', 'inherit'] });
// Node's closing summary: the top-level "# <name> <count>" lines, read as they pass by.
const summary = new Map();
createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', (line) => {
  process.stdout.write(`${line}\n`);
  const match = /^# (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) ([\d.]+)$/.exec(line);
  if (match) summary.set(match[1], Number(match[2]));
});
const status = await new Promise((resolve) => child.once('close', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
if (!summary.has('tests')) console.error('the test runner printed no summary: failing the run');
// Node 20 exits 0 when a failing hook cancels tests: a cancelled test is a failure here.
const cancelled = summary.get('cancelled') ?? 0;
if (cancelled > 0) console.error(`${cancelled} test(s) were cancelled (a hook failed): failing the run`);
process.exit(status !== 0 || !summary.has('tests') || cancelled > 0 || (summary.get('fail') ?? 0) > 0 ? 1 : 0);
