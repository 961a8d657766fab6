// Rule sets and attempts for the benchmarks: rules spread evenly over every selector shape, attempts that
// hit a known rule or miss everything. test/bench-workload.test.ts checks they produce the expected answers.
import type { Attempt, RuleInput, RuleJSON } from '../src/index.js';
import { parseRuleInput } from '../src/rule-input.js';
import { Rule } from '../src/rule.js';
import { ruleId } from '../src/rule-id.js';

const ip4 = (base: number, k: number): string => {
  const v = (base + k) >>> 0;
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
};

/** One entry per shape: the rule for index `k` within the shape, and an attempt that hits exactly it. */
export const SHAPES: readonly { name: string; rule: (k: number) => RuleInput; hit: (k: number) => Attempt }[] = [
  { name: 'domain', rule: (k) => ({ domain: `d${k}.example` }), hit: (k) => ({ recipient: `u@d${k}.example` }) },
  { name: 'wildcard domain', rule: (k) => ({ domain: `*.w${k}.example` }), hit: (k) => ({ recipient: `u@mx.w${k}.example` }) },
  { name: 'pool+domain', rule: (k) => ({ pool: `pool-${k % 64}`, domain: `pd${k}.example` }), hit: (k) => ({ pool: `pool-${k % 64}`, recipient: `u@pd${k}.example` }) },
  { name: 'mta+domain', rule: (k) => ({ mta: ip4(0x0a000000, k), domain: 'gmail.com' }), hit: (k) => ({ mta: ip4(0x0a000000, k), recipient: 'u@gmail.com' }) },
  { name: 'ip', rule: (k) => ({ ip: ip4(0xac100000, k) }), hit: (k) => ({ ip: ip4(0xac100000, k) }) },
  { name: 'ip /28', rule: (k) => ({ ip: `${ip4(0x0b000000, k * 16)}/28` }), hit: (k) => ({ ip: ip4(0x0b000000, k * 16 + 5) }) },
  { name: 'ipv6', rule: (k) => ({ ip: `2001:db8::${(k >>> 16).toString(16)}:${(k & 0xffff).toString(16)}` }), hit: (k) => ({ ip: `2001:db8::${(k >>> 16).toString(16)}:${(k & 0xffff).toString(16)}` }) },
  { name: 'mta+ip', rule: (k) => ({ mta: ip4(0x0c000000, k), ip: '198.51.100.1' }), hit: (k) => ({ mta: ip4(0x0c000000, k), ip: '198.51.100.1' }) },
  { name: 'recipient', rule: (k) => ({ recipient: `u${k}@r.example` }), hit: (k) => ({ recipient: `u${k}@r.example` }) },
  { name: 'tag', rule: (k) => ({ tag: `t${k}` }), hit: (k) => ({ tags: [`t${k}`] }) },
  { name: 'tag+domain', rule: (k) => ({ tag: `c${k % 100}`, domain: `td${k}.example` }), hit: (k) => ({ tags: ['x', `c${k % 100}`], recipient: `u@td${k}.example` }) },
  { name: 'pool+tag', rule: (k) => ({ pool: `pt${k}`, tag: 'campaign' }), hit: (k) => ({ pool: `pt${k}`, tags: ['campaign'] }) },
];

const CODES = [421, 450, 451, 550, 553, 554];

/** The `i`-th rule of a workload: shapes in turn, codes in turn, 1 in 8 a cluster rule. */
export function ruleAt(i: number): RuleInput {
  const shape = SHAPES[i % SHAPES.length]!;
  return { ...shape.rule(Math.floor(i / SHAPES.length)), code: CODES[i % CODES.length]!, cluster: i % 8 === 0 };
}

/**
 * Every attempt has the same property layout, as a delivery worker that builds attempts in one place
 * does: property reads on the hot path stay monomorphic. Absent fields are `undefined`. The values pass
 * through JSON, as they would arriving from a queue: flat strings, not the rope strings that template
 * literals build (which V8 flattens on first use and would make small workloads look faster).
 */
function attempt(raw: Attempt): Attempt {
  const a = JSON.parse(JSON.stringify(raw)) as Attempt;
  return { pool: a.pool, mta: a.mta, domain: a.domain, ip: a.ip, recipient: a.recipient, tags: a.tags, phase: a.phase };
}

/** An attempt that hits rule `i` (and, as it binds only that rule's fields, no rule of another shape). */
export function hitAt(i: number): Attempt {
  return attempt(SHAPES[i % SHAPES.length]!.hit(Math.floor(i / SHAPES.length)));
}

/** A full attempt (every field set) that matches no rule of any workload. */
export function missAt(i: number): Attempt {
  return attempt({ pool: 'pool-none', mta: ip4(0x0d000000, i), recipient: `nobody${i}@miss.example`, ip: ip4(0xc0000200, i & 255), tags: [`none${i}`] });
}

/** Deterministic pseudo-random indices in [0, n). */
export function indices(n: number, count: number, seed = 1): number[] {
  let s = seed >>> 0;
  return Array.from({ length: count }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  });
}

/** The clock of the start-up workload. */
export const NOW = Date.now();

/** The start-up mix: the match workload's shapes, 1 in 10 with `times`, 1 in 7 expiring in a year, 1 in 5 with a description. */
export function startupInputAt(i: number, cluster: boolean): RuleInput {
  const input: RuleInput = { ...ruleAt(i), cluster };
  if (i % 10 === 3) input.times = 5;
  if (i % 7 === 2) input.expires = new Date(NOW + 365 * 86_400_000 + i).toISOString();
  if (i % 5 === 1) input.description = 'forced by the start-up benchmark';
  return input;
}

/** The stored form the engine writes for `input` (with a revision, as `put` writes it). */
export function storedAt(i: number, cluster: boolean): RuleJSON {
  const spec = parseRuleInput(startupInputAt(i, cluster), NOW);
  const created = NOW - 86_400_000 + i;
  return { ...new Rule(spec, ruleId(spec), created, created, i % 4).toJSON(), revision: `bench.${i}` };
}

/** Fault rules of every kind, on domains no attempt of the benchmark has. */
export function faultAt(k: number): RuleInput {
  const domain = `f${k}.faults.example`;
  switch (k % 5) {
    case 0: return { domain, fault: 'disconnect', phase: 'data', afterBytes: 100 };
    case 1: return { domain, fault: 'reset', phase: 'rcpt' };
    case 2: return { domain, fault: 'hang', phase: 'mail', delay: 1000 };
    case 3: return { domain, fault: 'throttle', bytesPerSecond: 100 };
    default: return { domain, fault: 'tls', tls: 'refuse', phase: 'connect' };
  }
}
