/**
 * Domain and address normalisation shared by rules and attempts, so `Gmail.COM.`, `gmail.com` and an
 * IDN's Unicode and punycode forms select the same mail.
 */
import { domainToASCII } from 'node:url';
import { parseIp } from './ip.js';

/** A normalised rule domain: exact, or `*.suffix` matching every subdomain at any depth. */
export interface ParsedDomain {
  /** Canonical text as shown to users: `example.com` or `*.example.com`. */
  readonly text: string;
  readonly wildcard: boolean;
  /** The domain (exact) or the suffix after `*.` (wildcard). */
  readonly name: string;
  /** Number of labels in `name`. */
  readonly labels: number;
}

// A whole lower-case ASCII hostname in one test (labels of 1-63 characters): no split on the hot path.
const HOSTNAME = /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/;
// eslint-disable-next-line no-control-regex
const NEEDS_IDNA = /[^\x00-\x7f]|[A-Z]/;

/** Normalises a hostname (or `[ip]` address literal); returns a problem description when invalid. */
export function normalizeHostname(input: string): string | { problem: string } {
  if (HOSTNAME.test(input)) return input; // already canonical: the common case
  if (input.startsWith('[') && input.endsWith(']')) {
    const inner = input.slice(1, -1);
    const ip = parseIp(inner.toLowerCase().startsWith('ipv6:') ? inner.slice(5) : inner);
    return ip ? `[${ip.text}]` : { problem: `"${input}" is not a valid address literal` };
  }
  let name = input.endsWith('.') ? input.slice(0, -1) : input;
  // domainToASCII lower-cases and applies IDNA (UTS #46); it returns '' for names it cannot convert.
  if (NEEDS_IDNA.test(name)) name = domainToASCII(name);
  if (name === '') return { problem: `"${input}" is not a valid domain name` };
  if (name.length > 253) return { problem: `domain is ${name.length} characters long (at most 253)` };
  if (!HOSTNAME.test(name)) {
    const label = name.split('.').find((l) => !HOSTNAME.test(l)) ?? name;
    return { problem: `"${input}" is not a valid domain name (bad label "${label}")` };
  }
  return name;
}

/** Parses a rule's `domain`: an exact hostname or `*.` followed by one. */
export function parseRuleDomain(input: string): ParsedDomain | { problem: string } {
  const wildcard = input.startsWith('*.');
  const name = normalizeHostname(wildcard ? input.slice(2) : input);
  if (typeof name !== 'string') return name;
  if (wildcard && name.startsWith('[')) return { problem: 'a wildcard cannot apply to an address literal' };
  return { text: wildcard ? `*.${name}` : name, wildcard, name, labels: name.split('.').length };
}

/** A normalised recipient address: the local part as given, the domain normalised. */
export interface ParsedAddress {
  readonly text: string;
  readonly domain: string;
}

/** The normalised domain of address `input` whose last `@` is at `at`, or the problem. */
export function addressDomain(input: string, at: number): string | { problem: string } {
  if (at <= 0 || at === input.length - 1) return { problem: `"${input}" is not an address of the form local@domain` };
  if (at > 64) return { problem: `local part of "${input}" is longer than 64 characters` };
  return normalizeHostname(input.slice(at + 1));
}

/** Parses `local@domain`; returns a problem description when invalid. */
export function parseAddress(input: string): ParsedAddress | { problem: string } {
  const at = input.lastIndexOf('@');
  const domain = addressDomain(input, at);
  if (typeof domain !== 'string') return domain;
  // An address whose domain is already canonical is returned as is.
  return { text: domain.length === input.length - at - 1 && input.endsWith(domain) ? input : `${input.slice(0, at)}@${domain}`, domain };
}

/** How a rule's `sender` selects the envelope sender. */
export type SenderKind = 'null' | 'address' | 'domain' | 'wildcard';

/** A normalised rule `sender`: `<>`, an address, a domain, or `*.domain`. */
export interface ParsedSender {
  /** Canonical text as shown to users: `<>`, `local@example.com`, `example.com` or `*.example.com`. */
  readonly text: string;
  readonly kind: SenderKind;
  /** The index key part: `<>`, the address, the domain, or the suffix after `*.`. */
  readonly name: string;
  /** Number of labels in `name` (0 for `<>` and addresses). */
  readonly labels: number;
}

/** The attempt's and the rule's spelling of the null reverse-path (RFC 5321 §4.5.5: bounces and DSNs). */
export const NULL_SENDER = '<>';

/** Parses a rule's `sender`; an `@` makes it an address, otherwise it is a domain as `domain` is. */
export function parseSender(input: string): ParsedSender | { problem: string } {
  if (input === NULL_SENDER) return { text: input, kind: 'null', name: input, labels: 0 };
  if (input.includes('@')) {
    const address = parseAddress(input);
    return 'problem' in address ? address : { text: address.text, kind: 'address', name: address.text, labels: 0 };
  }
  const domain = parseRuleDomain(input);
  if ('problem' in domain) return domain;
  return { text: domain.text, kind: domain.wildcard ? 'wildcard' : 'domain', name: domain.name, labels: domain.labels };
}
