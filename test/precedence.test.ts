// Every case runs against the index and the reference model: both must pick the same winner.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Attempt, RuleInput } from '../src/index.js';
import { buildRules, matchers } from './helpers/matchers.js';

interface Case {
  name: string;
  rules: RuleInput[];
  attempt: Attempt;
  /** Index into `rules` of the expected winner, or -1 for no match. */
  winner: number;
  /** Expected number of candidates. */
  candidates?: number;
}

const cases: Case[] = [
  // MailerQ's four GET examples, with attempts that hit and miss them.
  ...[
    { attempt: { mta: '1.2.3.4', ip: '123.2.3.4' }, winner: 0 },
    { attempt: { mta: '1.2.3.4', recipient: 'a@gmail.com' }, winner: 1 },
    { attempt: { mta: '1.2.3.5', recipient: 'a@gmail.com' }, winner: -1 },
    { attempt: { pool: 'p', recipient: 'a@hotmail.com' }, winner: 2 },
    { attempt: { pool: 'shared-pool-1', domain: 'yaho0.com' }, winner: 3 },
    { attempt: { pool: 'shared-pool-2', domain: 'yaho0.com' }, winner: -1 },
    { attempt: { mta: '1.2.3.4', ip: '123.2.3.5' }, winner: -1 },
  ].map(({ attempt, winner }) => ({
    name: `MailerQ example: ${JSON.stringify(attempt)}`,
    rules: [
      { mta: '1.2.3.4', ip: '123.2.3.4', code: 500 },
      { mta: '1.2.3.4', domain: 'gmail.com', code: 421, description: 'forced deferring' },
      { domain: 'hotmail.com', cluster: true, code: 521, extended: '5.2.1' },
      { pool: 'shared-pool-1', domain: 'yaho0.com', code: '553', description: 'invalid mailbox' },
    ],
    attempt,
    winner,
  })),
  { name: '1. higher priority wins over more selectors', rules: [{ pool: 'p', domain: 'a.com', code: 550 }, { domain: 'a.com', code: 421, priority: 1 }], attempt: { pool: 'p', domain: 'a.com' }, winner: 1 },
  { name: '1. negative priority loses to default', rules: [{ domain: 'a.com', code: 550, priority: -1 }, { pool: 'p', code: 421 }], attempt: { pool: 'p', domain: 'a.com' }, winner: 1 },
  { name: '2. more bound selectors win', rules: [{ tag: 't', code: 550 }, { pool: 'p', domain: 'a.com', code: 421 }], attempt: { pool: 'p', domain: 'a.com', tags: 't' }, winner: 1, candidates: 2 },
  { name: '3. tag beats recipient', rules: [{ recipient: 'x@a.com', code: 550 }, { tag: 't', code: 421 }], attempt: { recipient: 'x@a.com', tags: ['t'] }, winner: 1 },
  { name: '3. recipient beats ip', rules: [{ ip: '1.1.1.1', code: 550 }, { recipient: 'x@a.com', code: 421 }], attempt: { recipient: 'x@a.com', ip: '1.1.1.1' }, winner: 1 },
  { name: '3. ip beats domain', rules: [{ domain: 'a.com', code: 550 }, { ip: '1.1.1.1', code: 421 }], attempt: { recipient: 'x@a.com', ip: '1.1.1.1' }, winner: 1 },
  { name: '3. domain beats mta', rules: [{ mta: '9.9.9.9', code: 550 }, { domain: 'a.com', code: 421 }], attempt: { mta: '9.9.9.9', domain: 'a.com' }, winner: 1 },
  { name: '3. mta beats pool', rules: [{ pool: 'p', code: 550 }, { mta: '9.9.9.9', code: 421 }], attempt: { pool: 'p', mta: '9.9.9.9' }, winner: 1 },
  { name: '3. compared lexicographically: tag+pool beats recipient+domain-free pair', rules: [{ recipient: 'x@a.com', mta: '9.9.9.9', code: 550 }, { tag: 't', pool: 'p', code: 421 }], attempt: { pool: 'p', mta: '9.9.9.9', recipient: 'x@a.com', tags: 't' }, winner: 1 },
  { name: '4. exact domain beats wildcard', rules: [{ domain: '*.a.com', code: 550 }, { domain: 'mx.a.com', code: 421 }], attempt: { domain: 'mx.a.com' }, winner: 1 },
  { name: '4. longer wildcard suffix first', rules: [{ domain: '*.a.com', code: 550 }, { domain: '*.eu.a.com', code: 421 }], attempt: { domain: 'mx.eu.a.com' }, winner: 1, candidates: 2 },
  { name: '4. exact IP beats CIDR', rules: [{ ip: '10.0.0.0/8', code: 550 }, { ip: '10.1.2.3', code: 421 }], attempt: { ip: '10.1.2.3' }, winner: 1 },
  { name: '4. longer prefix first', rules: [{ ip: '10.0.0.0/8', code: 550 }, { ip: '10.1.0.0/16', code: 421 }, { ip: '0.0.0.0/0', code: 450 }], attempt: { ip: '10.1.2.3' }, winner: 1, candidates: 3 },
  { name: '4. IPv6 prefix', rules: [{ ip: '2001:db8::/32', code: 550 }, { ip: '2001:db8:1::/48', code: 421 }], attempt: { ip: '2001:db8:1::25' }, winner: 1, candidates: 2 },
  { name: '5. instance beats cluster', rules: [{ domain: 'a.com', cluster: true, code: 550 }, { domain: 'a.com', code: 421 }], attempt: { domain: 'a.com' }, winner: 1, candidates: 2 },
  { name: 'wildcard does not match the apex', rules: [{ domain: '*.a.com', code: 550 }], attempt: { domain: 'a.com' }, winner: -1 },
  { name: 'wildcard matches any depth', rules: [{ domain: '*.a.com', code: 550 }], attempt: { domain: 'x.y.z.a.com' }, winner: 0 },
  { name: 'wildcard needs a label boundary', rules: [{ domain: '*.a.com', code: 550 }], attempt: { domain: 'xa.com' }, winner: -1 },
  { name: 'exact domain does not match subdomains', rules: [{ domain: 'a.com', code: 550 }], attempt: { domain: 'mx.a.com' }, winner: -1 },
  { name: 'domain derived from recipient, normalised', rules: [{ domain: 'bücher.example', code: 550 }], attempt: { recipient: 'Ann@BÜCHER.example.' }, winner: 0 },
  { name: 'recipient local part is case-sensitive', rules: [{ recipient: 'Ann@a.com', code: 550 }], attempt: { recipient: 'ann@A.com' }, winner: -1 },
  { name: 'IPv4-mapped attempt IP folds to IPv4', rules: [{ ip: '192.0.2.0/24', code: 550 }], attempt: { ip: '::ffff:192.0.2.7' }, winner: 0 },
  { name: 'IPv4 CIDR never matches IPv6', rules: [{ ip: '0.0.0.0/0', code: 550 }], attempt: { ip: '::1' }, winner: -1 },
  { name: 'mta folds IPv6 forms', rules: [{ mta: '2001:db8::1', code: 550 }], attempt: { mta: '2001:0DB8:0:0:0:0:0:1' }, winner: 0 },
  { name: 'tag matches any of the attempt tags', rules: [{ tag: 'b', code: 550 }], attempt: { tags: ['a', 'b', 'c'] }, winner: 0 },
  { name: 'tag ties broken by id', rules: [{ tag: 'a', code: 550 }, { tag: 'b', code: 421 }], attempt: { tags: ['b', 'a'] }, winner: -2, candidates: 2 },
  { name: 'attempt without the bound field does not match', rules: [{ pool: 'p', code: 550 }], attempt: { domain: 'a.com' }, winner: -1 },
  { name: 'phase: rule phase must equal the attempt phase', rules: [{ domain: 'a.com', code: 550, phase: 'data' }], attempt: { domain: 'a.com', phase: 'rcpt' }, winner: -1 },
  { name: 'phase: attempt without phase matches any phase', rules: [{ domain: 'a.com', code: 550, phase: 'data' }], attempt: { domain: 'a.com' }, winner: 0 },
  { name: 'selector-free rule matches everything', rules: [{ code: 421 }], attempt: {}, winner: 0 },
  { name: 'sender: address matches the whole sender, domain normalised', rules: [{ sender: 'bounces@Example.COM', code: 550 }], attempt: { sender: 'bounces@example.com.' }, winner: 0 },
  { name: 'sender: local part is case-sensitive', rules: [{ sender: 'Bounces@example.com', code: 550 }], attempt: { sender: 'bounces@example.com' }, winner: -1 },
  { name: 'sender: a domain matches every address of it, not its subdomains', rules: [{ sender: 'example.com', code: 550 }], attempt: { sender: 'x@mail.example.com' }, winner: -1 },
  { name: 'sender: domain', rules: [{ sender: 'example.com', code: 550 }], attempt: { sender: 'x@example.com' }, winner: 0 },
  { name: 'sender: wildcard at any depth, never the apex', rules: [{ sender: '*.example.com', code: 550 }], attempt: { sender: 'x@a.b.example.com' }, winner: 0 },
  { name: 'sender: wildcard never matches the apex', rules: [{ sender: '*.example.com', code: 550 }], attempt: { sender: 'x@example.com' }, winner: -1 },
  { name: 'sender: <> matches only the null sender', rules: [{ sender: '<>', code: 550 }, { sender: 'example.com', code: 421 }], attempt: { sender: '<>' }, winner: 0, candidates: 1 },
  { name: 'sender: a domain rule never matches <>', rules: [{ sender: '*.com', code: 550 }], attempt: { sender: '<>' }, winner: -1 },
  { name: 'sender: rule needs the attempt sender', rules: [{ sender: '<>', code: 550 }], attempt: { domain: 'a.com' }, winner: -1 },
  { name: 'mx: wildcard matches subdomains at any depth', rules: [{ mx: '*.google.com', code: 421 }], attempt: { recipient: 'x@corp.example', mx: 'alt1.aspmx.l.google.com' }, winner: 0 },
  { name: 'mx: wildcard never matches the apex', rules: [{ mx: '*.google.com', code: 421 }], attempt: { mx: 'google.com' }, winner: -1 },
  { name: 'mx: exact, normalised', rules: [{ mx: 'MX1.Example.NET.', code: 421 }], attempt: { mx: 'mx1.example.net' }, winner: 0 },
  { name: '3. sender beats ip', rules: [{ ip: '1.1.1.1', code: 550 }, { sender: 'a.com', code: 421 }], attempt: { sender: 'x@a.com', ip: '1.1.1.1' }, winner: 1 },
  { name: '3. recipient beats sender', rules: [{ sender: 'a.com', code: 550 }, { recipient: 'y@b.com', code: 421 }], attempt: { sender: 'x@a.com', recipient: 'y@b.com' }, winner: 1 },
  { name: '3. ip beats mx', rules: [{ mx: 'mx.b.com', code: 550 }, { ip: '1.1.1.1', code: 421 }], attempt: { mx: 'mx.b.com', ip: '1.1.1.1' }, winner: 1 },
  { name: '3. mx beats domain', rules: [{ domain: 'b.com', code: 550 }, { mx: '*.google.com', code: 421 }], attempt: { domain: 'b.com', mx: 'aspmx.l.google.com' }, winner: 1 },
  { name: '2. sender+mx beat a single tag', rules: [{ tag: 't', code: 550 }, { sender: '<>', mx: '*.google.com', code: 421 }], attempt: { tags: 't', sender: '<>', mx: 'aspmx.l.google.com' }, winner: 1, candidates: 2 },
  { name: '4. sender address beats sender domain beats wildcard', rules: [{ sender: '*.com', code: 550 }, { sender: 'a.com', code: 551 }, { sender: 'x@a.com', code: 421 }], attempt: { sender: 'x@a.com' }, winner: 2, candidates: 3 },
  { name: '4. exact mx beats wildcard, longer wildcard first', rules: [{ mx: '*.google.com', code: 550 }, { mx: '*.l.google.com', code: 551 }, { mx: 'aspmx.l.google.com', code: 421 }], attempt: { mx: 'aspmx.l.google.com' }, winner: 2, candidates: 3 },
  { name: 'sender and mx combine with every other selector', rules: [{ pool: 'p', domain: '*.a.com', sender: 'b.com', mx: '*.l.google.com', tag: 't', code: 550 }], attempt: { pool: 'p', recipient: 'x@mx.a.com', sender: 'y@b.com', mx: 'aspmx.l.google.com', tags: ['u', 't'] }, winner: 0 },
  { name: 'sender and mx with a CIDR', rules: [{ mta: '10.0.0.1', ip: '192.0.2.0/24', sender: 'y@b.com', mx: 'mx.b.com', code: 550 }], attempt: { mta: '10.0.0.1', ip: '192.0.2.9', sender: 'y@b.com', mx: 'mx.b.com' }, winner: 0 },
];

describe('precedence and matching (index and reference model)', async () => {
  for (const c of cases) {
    it(c.name, async () => {
      const rules = await buildRules(c.rules);
      const byInput = await Promise.all(c.rules.map(async (input) => (await buildRules([input]))[0]!.id));
      for (const m of matchers(rules)) {
        const candidates = m.candidates(c.attempt);
        if (c.winner === -1) {
          assert.equal(candidates.length, 0, `${m.name}: expected no match`);
        } else if (c.winner === -2) {
          // A tie on every step: the lower id wins, whatever the order of the attempt's tags.
          assert.equal(candidates[0]?.id, [...byInput].sort()[0], m.name);
        } else {
          assert.equal(candidates[0]?.id, byInput[c.winner], `${m.name}: wrong winner`);
        }
        if (c.candidates !== undefined) assert.equal(candidates.length, c.candidates, `${m.name}: candidates`);
      }
    });
  }
});
