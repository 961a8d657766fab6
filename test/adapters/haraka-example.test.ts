/**
 * `examples/haraka/` is a Haraka directory a user can copy and start: copied as it is (only its two
 * ports moved to free ones, its dependencies linked instead of installed), Haraka starts in its default
 * cluster mode, the REST API takes a rule with the example's token, the primary alone writes it to the
 * rules file, and a restarted Haraka has it.
 */
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { ErrorsClient } from '../../src/client/index.js';
import { FileStore } from '../../src/stores/file.js';
import { ChildHost } from '../helpers/child-host.js';
import { freePort } from '../helpers/haraka.js';

describe('examples/haraka', () => {
  const root = mkdtempSync(join(tmpdir(), 'haraka-example-'));
  const dir = join(root, 'my-haraka');
  after(() => rmSync(root, { recursive: true, force: true }));

  const bin = createRequire(import.meta.url).resolve('Haraka/bin/haraka');
  const start = async () => {
    const child = fork(bin, ['-c', dir], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    const host = new ChildHost<never>(child, 'Haraka (example)', () => undefined);
    await host.started(() => /smtp-intercept: ready/.test(host.log()) && /smtp-intercept: worker \d+ ready/.test(host.log()), 60_000);
    return host;
  };

  it('starts as copied, takes rules over its REST API and keeps them in its rules file', async () => {
    cpSync(resolve('examples/haraka'), dir, { recursive: true });
    // What `npm install` would put there, linked from this repository.
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(resolve('.'), join(dir, 'node_modules', 'smtp-intercept'), 'dir');
    const [smtpPort, httpPort] = [await freePort(), await freePort()];
    const move = (file: string, from: string, to: string) => {
      const text = readFileSync(join(dir, file), 'utf8');
      assert.ok(text.includes(from), `${file} has ${from}`);
      writeFileSync(join(dir, file), text.replace(from, to));
    };
    move('config/smtp.ini', 'listen=127.0.0.1:2525', `listen=127.0.0.1:${smtpPort}`);
    move('config/smtp-intercept.ini', 'port=8025', `port=${httpPort}`);

    const api = new ErrorsClient({ baseUrl: `http://127.0.0.1:${httpPort}`, token: 'change-me' });
    let haraka = await start();
    try {
      assert.doesNotMatch(haraka.log(), /\[(ERROR|CRIT)\].*smtp-intercept|EADDRINUSE/);
      const rule = await api.add({ domain: 'gmail.com', code: 421, extended: '4.7.0', description: 'Try again later' });
      const stored = await new FileStore(join(dir, 'smtp-intercept-rules.json')).load();
      assert.deepEqual(stored.map((r) => r.id), [rule.id]);
    } finally {
      await haraka.stop();
    }
    assert.ok(existsSync(join(dir, 'smtp-intercept-rules.json')));
    haraka = await start();
    try {
      assert.deepEqual((await api.list()).map((r) => r.domain), ['gmail.com']);
    } finally {
      await haraka.stop();
    }
  });
});
