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
const { status } = spawnSync(process.execPath, ['--import', 'tsx', '--test', ...selected], { stdio: 'inherit' });
process.exit(status ?? 1);
