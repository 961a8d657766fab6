/**
 * IP address and CIDR parsing into one canonical form, so that a rule and an attempt written differently
 * (`::FFFF:1.2.3.4`, `1.2.3.4`; `2001:DB8:0::1`, `2001:db8::1`) compare equal.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** A parsed address. `v4` holds the 32-bit value; `v6` the eight 16-bit groups. */
export interface ParsedIp {
  readonly family: 4 | 6;
  /** Canonical text: dotted quad, or RFC 5952 compressed lower-case IPv6. IPv4-mapped IPv6 is folded to IPv4. */
  readonly text: string;
  readonly v4: number;
  readonly v6: readonly number[];
}

/** A parsed network. A full-length prefix is an exact address (`prefix` 32 or 128). */
export interface ParsedCidr {
  readonly family: 4 | 6;
  readonly prefix: number;
  /** Canonical text: the address alone for a full-length prefix, else `network/prefix`. */
  readonly text: string;
  /** Internal lookup key of the network (see {@link networkKey}). */
  readonly key: string;
}

function parseV4(text: string): number {
  const parts = text.split('.');
  let value = 0;
  for (const part of parts) value = value * 256 + Number(part);
  return value >>> 0;
}

function v4Text(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

function expandV6(text: string): number[] {
  let head = text;
  let tailV4: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) !== -1) {
    const v4 = parseV4(text.slice(lastColon + 1));
    tailV4 = [v4 >>> 16, v4 & 0xffff];
    head = text.slice(0, lastColon + 1); // a trailing single ':' yields an empty group, dropped below
  }
  const [left, right] = head.split('::') as [string, string | undefined];
  const toWords = (s: string | undefined): number[] => (s ? s.split(':').filter((w) => w !== '').map((w) => parseInt(w, 16)) : []);
  const l = toWords(left);
  const r = toWords(right).concat(tailV4);
  if (right === undefined) return l.concat(tailV4);
  return l.concat(new Array<number>(8 - l.length - r.length).fill(0), r);
}

function v6Text(words: readonly number[]): string {
  // RFC 5952: compress the longest run (>= 2) of zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

function isMappedV4(words: readonly number[]): boolean {
  return words[0] === 0 && words[1] === 0 && words[2] === 0 && words[3] === 0 && words[4] === 0 && words[5] === 0xffff;
}

/** Parses an IPv4 or IPv6 address (no zone id); `undefined` when it is not one. */
export function parseIp(input: string): ParsedIp | undefined {
  if (isIPv4(input)) {
    const v4 = parseV4(input);
    return { family: 4, text: v4Text(v4), v4, v6: [] };
  }
  if (!isIPv6(input) || input.includes('%')) return undefined;
  const words = expandV6(input);
  if (isMappedV4(words)) {
    const v4 = ((words[6]! << 16) | words[7]!) >>> 0;
    return { family: 4, text: v4Text(v4), v4, v6: [] };
  }
  return { family: 6, text: v6Text(words), v4: 0, v6: words };
}

/** The lookup key of `ip`'s network of length `prefix`: equal for all addresses inside it. */
export function networkKey(ip: ParsedIp, prefix: number): string {
  if (ip.family === 4) {
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    return ((ip.v4 & mask) >>> 0).toString(16);
  }
  let key = '';
  for (let i = 0; i < 8; i++) {
    const bits = Math.min(16, Math.max(0, prefix - i * 16));
    const mask = bits === 0 ? 0 : (0xffff << (16 - bits)) & 0xffff;
    key += (ip.v6[i]! & mask).toString(16) + (i < 7 ? ':' : '');
  }
  return key;
}

/**
 * Parses `addr` or `addr/prefix`. Returns a string describing the problem when invalid, so the caller
 * can report it against its own field. Host bits set below the prefix are an error: `10.0.0.7/24` is
 * almost always a typo for `10.0.0.0/24` or `10.0.0.7`, and silently widening it would force more mail
 * than intended.
 */
export function parseCidr(input: string): ParsedCidr | string {
  const slash = input.indexOf('/');
  const addrText = slash === -1 ? input : input.slice(0, slash);
  const ip = parseIp(addrText);
  if (!ip) return `"${addrText}" is not an IPv4 or IPv6 address`;
  const max = ip.family === 4 ? 32 : 128;
  let prefix = max;
  if (slash !== -1) {
    const prefixText = input.slice(slash + 1);
    if (!/^\d{1,3}$/.test(prefixText)) return `prefix length "${prefixText}" is not a number`;
    prefix = Number(prefixText);
    // An IPv4-mapped IPv6 network folds to IPv4: its prefix loses the 96 mapped bits.
    const mappedFold = ip.family === 4 && !isIPv4(addrText);
    if (mappedFold) {
      if (prefix < 96 || prefix > 128) return `prefix length /${prefix} of an IPv4-mapped address must be 96-128`;
      prefix -= 96;
    }
    if (prefix > max) return `prefix length /${prefix} is longer than ${max}`;
  }
  const key = networkKey(ip, prefix);
  if (key !== networkKey(ip, max)) {
    const network = ip.family === 4 ? v4Text(parseInt(key, 16)) : v6Text(key.split(':').map((w) => parseInt(w, 16)));
    return `${input} has host bits set; did you mean ${network}/${prefix}?`;
  }
  return { family: ip.family, prefix, text: prefix === max ? ip.text : `${ip.text}/${prefix}`, key };
}
