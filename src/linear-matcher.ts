/**
 * The reference model: a linear scan that tests each rule field by field, ordered by its own reading of
 * the documented precedence (docs/precedence.md), from the public fields. It shares no code with
 * `RuleIndex` (no keys, no shapes, no `comparePrecedence`), so a mistake in either shows up in the
 * tests that require both to agree. Benchmarks use it as the baseline. Not exported from the package.
 */
import type { NormalizedAttempt } from './attempt.js';
import { parseIp, type ParsedIp } from './ip.js';
import type { Rule } from './rule.js';

/** Step 3: selectors from the most to the least significant. */
const ORDER = ['tag', 'recipient', 'sender', 'ip', 'mx', 'domain', 'mta', 'pool'] as const;

/** Step 4: exact beats range; a longer CIDR prefix or wildcard suffix beats a shorter one; the IP decides when bound. */
function exactness(r: Rule): number {
  if (r.ip !== undefined) return r.ip.includes('/') ? Number(r.ip.split('/')[1]) : Infinity;
  if (r.domain !== undefined) return r.domain.startsWith('*.') ? r.domain.split('.').length - 1 : Infinity;
  return 0;
}

/** Labels under a `*.` wildcard: a longer suffix is the more exact. */
const labels = (pattern: string): number => pattern.split('.').length - 1;

/** Step 4, then: sender address or `<>` beats sender domain beats sender wildcard. */
function senderExactness(r: Rule): number {
  if (r.sender === undefined) return 0;
  if (r.sender === '<>' || r.sender.includes('@')) return Infinity;
  return r.sender.startsWith('*.') ? labels(r.sender) : 1000;
}

/** Step 4, last: exact mx beats mx wildcard, the longer suffix first. */
function mxExactness(r: Rule): number {
  if (r.mx === undefined) return 0;
  return r.mx.startsWith('*.') ? labels(r.mx) : Infinity;
}

/** The documented steps, in order; negative when `a` wins. */
function precedence(a: Rule, b: Rule): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  const bound = (r: Rule) => ORDER.filter((f) => r[f] !== undefined).length;
  if (bound(a) !== bound(b)) return bound(b) - bound(a);
  for (const f of ORDER) if ((a[f] === undefined) !== (b[f] === undefined)) return a[f] !== undefined ? -1 : 1;
  for (const exact of [exactness, senderExactness, mxExactness]) if (exact(a) !== exact(b)) return exact(a) > exact(b) ? -1 : 1;
  if (a.cluster !== b.cluster) return a.cluster ? 1 : -1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function inNetwork(ip: ParsedIp, net: ParsedIp, prefix: number): boolean {
  if (ip.family !== net.family) return false;
  if (ip.family === 4) return prefix === 0 || (ip.v4 ^ net.v4) >>> (32 - prefix) === 0;
  for (let bit = 0; bit < prefix; bit += 16) {
    const width = Math.min(16, prefix - bit);
    const w = bit / 16;
    if (((ip.v6[w]! ^ net.v6[w]!) >> (16 - width)) !== 0) return false;
  }
  return true;
}

/** An exact host name, or `*.suffix` matching subdomains at any depth (never the apex). */
function hostMatches(pattern: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  return pattern.startsWith('*.') ? host.endsWith(pattern.slice(1)) : pattern === host;
}

interface Prepared { rule: Rule; net?: ParsedIp; prefix: number }

export class LinearMatcher {
  readonly #rules: Prepared[];

  constructor(rules: Iterable<Rule>) {
    this.#rules = [...rules].map((rule) => {
      if (rule.ip === undefined) return { rule, prefix: 0 };
      const [addr, len] = rule.ip.split('/') as [string, string | undefined];
      const net = parseIp(addr)!;
      return { rule, net, prefix: len === undefined ? (net.family === 4 ? 32 : 128) : Number(len) };
    });
  }

  /** Does `rule` match `a`, field by field (expiry not considered)? */
  static matches(p: Prepared, a: NormalizedAttempt): boolean {
    const r = p.rule;
    if (a.phase !== undefined && r.phase !== a.phase) return false;
    if (r.pool !== undefined && r.pool !== a.pool) return false;
    if (r.mta !== undefined && r.mta !== a.mta) return false;
    if (r.recipient !== undefined && r.recipient !== a.recipient) return false;
    if (r.tag !== undefined && !a.tags.includes(r.tag)) return false;
    if (r.domain !== undefined && !hostMatches(r.domain, a.domain)) return false;
    if (p.net !== undefined && (a.ip === undefined || !inNetwork(a.ip, p.net, p.prefix))) return false;
    if (r.sender !== undefined) {
      if (a.sender === undefined) return false;
      // `<>` and addresses compare whole; a domain or wildcard compares the sender's domain.
      if (r.sender === '<>' || r.sender.includes('@')) {
        if (r.sender !== a.sender) return false;
      } else if (!hostMatches(r.sender, a.senderDomain)) return false;
    }
    if (r.mx !== undefined && !hostMatches(r.mx, a.mx)) return false;
    return true;
  }

  /** Every matching rule in precedence order. */
  candidates(a: NormalizedAttempt): Rule[] {
    const out: Rule[] = [];
    for (const p of this.#rules) if (LinearMatcher.matches(p, a)) out.push(p.rule);
    return out.sort(precedence);
  }
}
