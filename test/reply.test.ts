// Replies are exact (RFC 5321 §4.2, §4.5.3.1.5): every reply line is US-ASCII and fits 512 octets with
// CRLF; a multi-line description gives one wire line per entry.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Interceptor, restoreRule, type RuleInput, ValidationError } from '../src/index.js';

async function rejected(input: RuleInput): Promise<{ code: string; param?: string; message: string }[]> {
  try {
    await new Interceptor().add(input);
  } catch (err) {
    assert.ok(err instanceof ValidationError, `expected ValidationError, got ${String(err)}`);
    return err.details.map((d) => ({ ...d }));
  }
  assert.fail(`expected ${JSON.stringify(input).slice(0, 80)} to be rejected`);
}

async function forced(input: RuleInput) {
  const ic = new Interceptor();
  await ic.add({ domain: 'example.org', ...input });
  return ic.check({ recipient: 'a@example.org' })!;
}

const wireOctets = (line: string) => Buffer.byteLength(`${line}\r\n`, 'ascii');

describe('reply lines', () => {
  it('a single-line rule: one wire line, reply equal to it, frozen', async () => {
    const r = await forced({ code: 550, extended: '5.1.1', description: 'no such user' });
    assert.deepEqual(r.replyLines, ['550 5.1.1 no such user']);
    assert.equal(r.reply, '550 5.1.1 no such user');
    assert.equal(r.description, 'no such user');
    assert.ok(Object.isFrozen(r) && Object.isFrozen(r.replyLines));
  });

  it('a multi-line rule: one wire line per entry, description and reply joined with LF', async () => {
    const ic = new Interceptor();
    const rule = await ic.add({ domain: 'example.org', code: 550, extended: '5.1.1', description: ['first', 'second', 'third'] });
    const r = ic.check({ recipient: 'a@example.org' })!;
    assert.deepEqual(r.replyLines, ['550-5.1.1 first', '550-5.1.1 second', '550 5.1.1 third']);
    assert.equal(r.description, 'first\nsecond\nthird');
    assert.equal(r.reply, '550-5.1.1 first\n550-5.1.1 second\n550 5.1.1 third');
    assert.ok(Object.isFrozen(r.replyLines));
    assert.deepEqual(rule.description, ['first', 'second', 'third']);
    assert.ok(Object.isFrozen(rule.description));
    assert.deepEqual(rule.toJSON().description, ['first', 'second', 'third']);
    assert.equal(ic.check({ recipient: 'b@example.org' }), r, 'the same frozen result for every attempt');
  });

  it('default enhanced code on every line of a multi-line reply', async () => {
    const r = await forced({ code: 421, description: ['busy', 'come back later'] });
    assert.deepEqual(r.replyLines, ['421-4.0.0 busy', '421 4.0.0 come back later']);
  });

  it('a stored multi-line rule restores to the same reply', async () => {
    const ic = new Interceptor();
    const rule = await ic.add({ domain: 'example.org', code: 452, description: ['a', 'b'] });
    const restored = restoreRule(JSON.parse(JSON.stringify(rule)), Date.now())!;
    assert.deepEqual(restored.description, ['a', 'b']);
  });

  it('every line fits 512 octets with CRLF: the limit depends on the enhanced code', async () => {
    for (const extended of [undefined, '5.1.1', '5.123.456']) {
      const max = 512 - `550 ${extended ?? '5.0.0'} `.length - 2;
      const ok = await forced({ code: 550, extended, description: 'x'.repeat(max) });
      assert.equal(wireOctets(ok.reply!), 512, `extended ${String(extended)}`);
      const [first] = await rejected({ code: 550, extended, description: 'x'.repeat(max + 1) });
      assert.deepEqual([first?.code, first?.param], ['out_of_range', 'description']);
      assert.match(first!.message, new RegExp(`description is ${max + 1} characters.*512 octets with CRLF, leaving at most ${max}`));
    }
  });

  it('the line limit holds for each line of a multi-line reply, naming the line', async () => {
    const ok = await forced({ code: 550, extended: '5.1.1', description: ['x'.repeat(500), 'y'.repeat(500)] });
    assert.deepEqual(ok.replyLines!.map(wireOctets), [512, 512]);
    const details = await rejected({ code: 550, extended: '5.1.1', description: ['ok', 'y'.repeat(501)] });
    assert.deepEqual(details.map((d) => [d.code, d.param]), [['out_of_range', 'description']]);
    assert.match(details[0]!.message, /^description\[1\] is 501 characters/);
  });

  it('rejects non-ASCII text with a clear ValidationError', async () => {
    for (const description of ['Zugriff verweigert – ünïcödé', 'caf\u00e9', '\u{1F4E7} mail', ['fine', 'naïve']]) {
      const [first] = await rejected({ code: 550, description });
      assert.deepEqual([first?.code, first?.param], ['invalid_format', 'description']);
      assert.match(first!.message, /must be printable US-ASCII .*RFC 5321/);
    }
    const [first] = await rejected({ code: 550, description: 'caf\u00e9' });
    assert.match(first!.message, /found U\+00E9 "é" at character 4/);
  });

  it('an empty description means the default text; never a trailing space', async () => {
    const ic = new Interceptor();
    const rule = await ic.add({ domain: 'example.org', code: 550, description: '' });
    assert.equal(rule.description, undefined);
    assert.equal('description' in rule.toJSON(), false);
    assert.equal(ic.check({ recipient: 'a@example.org' })!.reply, '550 5.0.0 forced failure');
    for (const description of [' ', 'text ', ['a', 'b '], ['a', ''], ['   ']]) {
      const [first] = await rejected({ code: 550, description });
      assert.deepEqual([first?.code, first?.param], ['invalid_format', 'description'], JSON.stringify(description));
    }
  });

  it('rejects empty, oversized and non-string line arrays', async () => {
    assert.deepEqual((await rejected({ code: 550, description: [] })).map((d) => d.code), ['out_of_range']);
    const many = await rejected({ code: 550, description: Array.from({ length: 101 }, () => 'x') });
    assert.match(many[0]!.message, /description must have 1 to 100 lines \(got 101\)/);
    await forced({ code: 550, description: Array.from({ length: 100 }, () => 'x') });
    const typed = await rejected({ code: 550, description: ['a', 5, null] as unknown as string[] });
    assert.deepEqual(typed.map((d) => [d.code, d.message]), [
      ['invalid_type', 'description[1] must be a string'], ['invalid_type', 'description[2] must be a string'],
    ]);
    assert.equal((await rejected({ code: 550, description: ['a\r\n250 ok'] }))[0]?.message, 'description[0] must not contain control characters (CR, LF, NUL, ...)');
  });
});
