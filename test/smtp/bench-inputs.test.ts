// bench/smtp.ts assumes its 10,000 rules force none of smtp-source's mail: every phase is checked and passes.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ruleAt } from '../../bench/workload.js';
import { Interceptor } from '../../src/index.js';

it("the SMTP benchmark's rules never force its mail", async () => {
  const ic = new Interceptor();
  for (let i = 0; i < 10_000; i++) await ic.add(ruleAt(i));
  const base = { mta: '127.0.0.1', ip: '127.0.0.1' };
  for (const attempt of [
    { ...base, phase: 'connect' as const },
    { ...base, tags: [], phase: 'mail' as const },
    { ...base, tags: [], recipient: 'to@sink.test', phase: 'rcpt' as const },
    { ...base, tags: [], recipient: 'to@sink.test', phase: 'data' as const },
  ]) assert.equal(ic.explain(attempt).winner, undefined, attempt.phase);
});
