// Installs the `npm pack` tarball into a fresh project and loads every exported subpath with both
// `import` and `require`, and type-checks a consumer in both module systems. Needs `npm run build` first
// (the `npm test` script does it).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';

const root = resolve(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; exports: Record<string, unknown> };
const subpaths = Object.keys(pkg.exports).filter((p) => p !== './package.json').map((p) => (p === '.' ? pkg.name : `${pkg.name}/${p.slice(2)}`));
const ADAPTER_DIRS = ['/http/', '/stores/', '/adapters/', '/client/', '/testing/', '/smtp/', '/metrics/', '/cli/', 'ioredis', 'smtp-server', 'prom-client'];

let dir: string;
let tarball: string;
let dev: (name: string, under?: string) => string;

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('packed package', () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'smtp-intercept-pack-'));
    tarball = execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: root, encoding: 'utf8' }).trim().split('\n').pop()!;
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
    // ioredis, smtp-server and prom-client are optional peer dependencies, needed only by their subpaths.
    dev = (name: string, under = '') => `${name}@${(JSON.parse(readFileSync(join(root, 'node_modules', under, name, 'package.json'), 'utf8')) as { version: string }).version}`;
    run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(dir, tarball), dev('typescript'), dev('ioredis'), dev('smtp-server'), dev('prom-client')]);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('ships only dist and package metadata', () => {
    const listed = run('tar', ['-tzf', tarball]).split('\n').filter(Boolean);
    assert.ok(listed.includes('package/dist/cjs/package.json'), 'the CommonJS build is marked as such');
    for (const file of listed) assert.match(file, /^package\/(dist\/|package\.json$|README\.md$|LICENSE$|CHANGELOG\.md$)/, file);
  });

  it('imports every subpath as ESM', () => {
    const script = subpaths.map((s, i) => `import * as m${i} from '${s}'; if (Object.keys(m${i}).length === 0) throw new Error('${s} exports nothing');`).join('\n');
    writeFileSync(join(dir, 'esm.mjs'), `${script}\nimport { Interceptor } from '${pkg.name}';\nconst ic = new Interceptor();\nawait ic.add({ domain: 'gmail.com', code: 421 });\nconsole.log(ic.check({ recipient: 'a@gmail.com' }).reply);\n`);
    assert.equal(run('node', ['esm.mjs']).trim(), '421 4.0.0 forced deferring');
  });

  it('requires every subpath as CommonJS, and the core entry loads no adapter', () => {
    const script = [
      `const { Interceptor, ValidationError } = require('${pkg.name}');`,
      `const loaded = Object.keys(require.cache).filter((f) => ${JSON.stringify(ADAPTER_DIRS)}.some((d) => f.includes(d)));`,
      `if (loaded.length) throw new Error('core loaded adapters: ' + loaded.join(', '));`,
      ...subpaths.map((s) => `if (Object.keys(require('${s}')).length === 0) throw new Error('${s} exports nothing');`),
      `const ic = new Interceptor();`,
      `ic.add({ domain: 'gmail.com', code: 'x' }).catch((e) => console.log(e instanceof ValidationError, e.param));`,
    ].join('\n');
    writeFileSync(join(dir, 'cjs.cjs'), script);
    assert.equal(run('node', ['cjs.cjs']).trim(), 'true code');
  });

  it('runs the fake MX without smtp-server: the testing subpath and the plugins never load it', () => {
    const script = [
      `const { createFakeMx } = require('${pkg.name}/testing');`,
      `require('${pkg.name}/haraka'); require('${pkg.name}/zonemta'); require('${pkg.name}/smtp-server');`,
      `const { Interceptor } = require('${pkg.name}');`,
      `const net = require('node:net');`,
      `createFakeMx({ interceptor: new Interceptor() }).then((mx) => {`,
      `  const socket = net.connect(mx.port, mx.host);`,
      `  socket.once('data', (greeting) => {`,
      `    const loaded = Object.keys(require.cache).filter((f) => f.includes('/node_modules/smtp-server/'));`,
      `    console.log(greeting.toString().slice(0, 4), loaded.length);`,
      `    socket.destroy(); mx.close();`,
      `  });`,
      `});`,
    ].join('\n');
    writeFileSync(join(dir, 'fake-mx.cjs'), script);
    assert.equal(run('node', ['fake-mx.cjs']).trim(), '220  0');
  });

  it("loads as a ZoneMTA plugin from ZoneMTA's config key modules/smtp-intercept/zonemta", () => {
    const script = [
      `const PluginHandler = require('@zone-eu/wild-plugins');`,
      `const errors = [];`,
      `const handler = new PluginHandler({ context: 'sender', logger: { info() {}, error(...a) { errors.push(a.map(String).join(' ')) } }, plugins: { 'modules/${pkg.name}/zonemta': { enabled: 'sender' } } });`,
      // Without Redis the plugin loads, says why it checks nothing, and lets deliveries through.
      `handler.load(() => console.log(handler.loaded.map((p) => p.title).join(), handler.hooks.has('sender:connect'), /redis is missing/.test(errors.join())));`,
    ].join('\n');
    // A ZoneMTA application of its own: ZoneMTA's loader (wild-plugins, which wants ioredis 5) and the tarball.
    const app = join(dir, 'zonemta-app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'zonemta-app', private: true }));
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(dir, tarball), dev('@zone-eu/wild-plugins', 'zone-mta/node_modules')], { cwd: app, stdio: 'ignore' });
    writeFileSync(join(app, 'load.cjs'), script);
    assert.equal(execFileSync('node', ['load.cjs'], { cwd: app, encoding: 'utf8' }).trim(), 'smtp-intercept true true');
  });

  it('installs the smtp-intercept command', () => {
    assert.match(run('npx', ['--no-install', 'smtp-intercept', '--help']), /Usage: smtp-intercept serve/);
  });

  it('type-checks a consumer under NodeNext ESM and CommonJS resolution', () => {
    const consumer = `import { Interceptor, type ForcedResult, type RuleInput } from '${pkg.name}';\n`
      + `const input: RuleInput = { domain: 'gmail.com', code: 421 };\n`
      + `const ic = new Interceptor({ seed: 1 });\nvoid ic.add(input);\nconst r: ForcedResult | undefined = ic.check({ recipient: 'a@gmail.com' });\nexport const reply: string | undefined = r?.reply;\n`;
    writeFileSync(join(dir, 'consumer.mts'), consumer);
    writeFileSync(join(dir, 'consumer.cts'), consumer);
    const tsc = join(dir, 'node_modules', 'typescript', 'bin', 'tsc');
    const flags = ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext'];
    run('node', [tsc, ...flags, 'consumer.mts']);
    run('node', [tsc, ...flags, 'consumer.cts']);
  });
});
