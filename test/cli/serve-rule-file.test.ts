// `serve --rules` at start-up, as an operator meets it: a corrupt file, a torn last line, a file of
// 0.1.0, and a file or directory serve may not write. Each ends in one `smtp-intercept:` line naming
// the path, with exit 1, or in the documented recovery; never in a server that starts and then answers
// every change with a 503.
import assert from 'node:assert/strict';
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Interceptor } from '../../src/index.js';
import { FileStore } from '../../src/stores/file.js';
import { type RunAs, runCli, startCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'smtp-intercept-cli-rules-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const token = 'rule-file-token';
const env = { SMTP_INTERCEPT_TOKEN: token };
const fixture = join(import.meta.dirname, '../fixtures/file-store-0.1.0.json');
// Root writes through any permission bits: as root, the CLI runs as `nobody` so that they bind.
const root = process.getuid?.() === 0;
const user: RunAs | undefined = root ? { uid: 65534, gid: 65534 } : undefined;
const ownedByUser = (path: string) => { if (user) chownSync(path, user.uid, user.gid); };

const serveArgs = (rules: string) => ['serve', '--smtp-port', '0', '--http-port', '0', '--rules', rules];
const auth = { authorization: `Bearer ${token}` };

/** A journal with three rules, written by the store itself. */
async function journal(path: string): Promise<void> {
  const store = new FileStore(path);
  const ic = new Interceptor({ store });
  await ic.ready();
  for (const domain of ['a.example', 'b.example', 'c.example']) await ic.add({ domain, code: 550 });
  await ic.close();
  await store.close();
}

before(() => chmodSync(dir, 0o755));

describe('serve --rules at start-up', () => {
  it('refuses a corrupt rule file with exit 1, naming the file and line, and leaves it untouched', async () => {
    const rules = join(dir, 'corrupt.json');
    await journal(rules);
    const lines = readFileSync(rules, 'utf8').split('\n');
    const corrupt = [lines[0], 'garbage{', ...lines.slice(1)].join('\n');
    writeFileSync(rules, corrupt);
    const { code, output } = await runCli(serveArgs(rules), env);
    assert.equal(code, 1, output);
    assert.equal(output, `smtp-intercept: rule file ${rules} line 2 is not valid JSON; it was left untouched\n`);
    assert.equal(readFileSync(rules, 'utf8'), corrupt);
  });

  it('recovers a torn last line, saying so in one smtp-intercept: line, and serves the rules before it', async () => {
    const rules = join(dir, 'torn.json');
    await journal(rules);
    const text = readFileSync(rules, 'utf8');
    truncateSync(rules, Buffer.byteLength(text) - 20); // the last put loses its end and its newline
    const server = await startCli(serveArgs(rules), env);
    const listed = await (await fetch(`http://${server.http}/v1/errors`, { headers: auth })).json() as { domain: string }[];
    assert.deepEqual(listed.map((r) => r.domain), ['a.example', 'b.example']);
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0);
    const said = server.output.split('\n').filter((line) => line.includes('torn'));
    assert.equal(said.length, 1, server.output);
    assert.match(said[0]!, new RegExp(`^smtp-intercept: rule file ${rules}: dropped a torn last record at line 4 `));
    assert.doesNotMatch(server.output, /\(node:\d+\)|Warning:|--trace-warnings/, 'not a Node process warning');
  });

  it('serves a file written by 0.1.0 and rewrites it as a journal at the first change', async () => {
    const rules = join(dir, 'old.json');
    copyFileSync(fixture, rules);
    const server = await startCli(serveArgs(rules), env);
    const before = await (await fetch(`http://${server.http}/v1/errors`, { headers: auth })).json() as { id: string }[];
    assert.ok(before.some((r) => r.id === '8742122ca5f79b65d2ac'), JSON.stringify(before));
    const added = await fetch(`http://${server.http}/v1/errors`, { method: 'POST', headers: auth, body: new URLSearchParams({ domain: 'new.example', code: '550' }) });
    const addedRule = await added.json() as { id: string };
    assert.equal(added.status, 201, JSON.stringify(addedRule));
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0, server.output);
    assert.match(readFileSync(rules, 'utf8'), /^\{"format":"smtp-intercept-journal","version":2\}\n/);
    const again = await startCli(serveArgs(rules), env);
    const after = await (await fetch(`http://${again.http}/v1/errors`, { headers: auth })).json() as { id: string }[];
    assert.deepEqual(after.map((r) => r.id).sort(), [...before.map((r) => r.id), addedRule.id].sort());
    again.child.kill('SIGTERM');
    assert.equal(await again.exited, 0);
  });

  it('refuses a rule file it may not write with exit 1, naming the file', async () => {
    const sub = join(dir, 'ro-file');
    mkdirSync(sub);
    ownedByUser(sub);
    const rules = join(sub, 'r.json');
    await journal(rules);
    ownedByUser(rules);
    chmodSync(rules, 0o444);
    const { code, output } = await runCli(serveArgs(rules), env, 10_000, user);
    assert.equal(code, 1, output);
    assert.match(output, new RegExp(`^smtp-intercept: cannot write the rule file --rules "${rules}": EACCES`));
    assert.equal(output.split('\n').length, 2, output);
  });

  it('refuses a rule directory it may not write in with exit 1, naming the directory', async () => {
    const sub = join(dir, 'ro-dir');
    mkdirSync(sub);
    ownedByUser(sub);
    chmodSync(sub, 0o555);
    const rules = join(sub, 'r.json');
    const { code, output } = await runCli(serveArgs(rules), env, 10_000, user);
    assert.equal(code, 1, output);
    assert.match(output, new RegExp(`^smtp-intercept: cannot write in the directory "${sub}" of the rule file --rules "${rules}": EACCES`));
  });
});
