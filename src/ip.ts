/**
 * IP address and CIDR parsing into one canonical form, so that a rule and an attempt written differently
 * (`::FFFF:1.2.3.4`, `1.2.3.4`; `2001:DB8:0::1`, `2001:db8::1`) compare equal.
 */

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
  readonly key: number | string;
}

/**
 * Parses a strict dotted quad (no leading zeros, each part 0-255) without regular expressions or
 * allocations: this runs for every uncached attempt. Returns -1 when `text` is not one.
 */
function parseV4(text: string): number {
  const length = text.length;
  if (length < 7 || length > 15) return -1;
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || ++dots > 3) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits === 1 && part === 0) return -1; // leading zero
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return -1;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return (value * 256 + part) >>> 0;
}

function v4Text(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

const NO_WORDS: readonly number[] = Object.freeze([]);

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const lower = c | 32;
  return lower >= 97 && lower <= 102 ? lower - 87 : -1;
}

/**
 * Parses IPv6 text (groups of 1-4 hex digits, at most one `::`, an optional dotted-quad tail) into eight
 * 16-bit words, by hand: node's `isIPv6` regular expression alone costs microseconds per call.
 */
function parseV6(text: string): number[] | undefined {
  const n = text.length;
  if (n < 2 || n > 45) return undefined;
  const words: number[] = [];
  let gap = -1;
  let i = 0;
  if (text.charCodeAt(0) === 58) {
    if (text.charCodeAt(1) !== 58) return undefined;
    gap = 0;
    i = 2;
  }
  while (i < n) {
    const start = i;
    let value = 0;
    let digits = 0;
    for (let h; i < n && (h = hexValue(text.charCodeAt(i))) !== -1; i++) {
      if (++digits > 4) return undefined;
      value = value * 16 + h;
    }
    if (i < n && text.charCodeAt(i) === 46) {
      const v4 = parseV4(text.slice(start));
      if (v4 === -1 || words.length > 6) return undefined;
      words.push(v4 >>> 16, v4 & 0xffff);
      break;
    }
    if (digits === 0 || words.length === 8) return undefined;
    words.push(value);
    if (i === n) break;
    if (text.charCodeAt(i++) !== 58 || i === n) return undefined;
    if (text.charCodeAt(i) === 58) {
      if (gap !== -1) return undefined;
      gap = words.length;
      i++;
    }
  }
  if (gap === -1) return words.length === 8 ? words : undefined;
  if (words.length > 7) return undefined;
  words.splice(gap, 0, ...new Array<number>(8 - words.length).fill(0));
  return words;
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
  let text = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      text += i === 0 ? '::' : ':';
      i += bestLen - 1;
      continue;
    }
    text += words[i]!.toString(16) + (i < 7 ? ':' : '');
  }
  return text;
}

function isMappedV4(words: readonly number[]): boolean {
  return words[0] === 0 && words[1] === 0 && words[2] === 0 && words[3] === 0 && words[4] === 0 && words[5] === 0xffff;
}

/** Parses an IPv4 or IPv6 address (no zone id); `undefined` when it is not one. */
export function parseIp(input: string): ParsedIp | undefined {
  const v4 = parseV4(input);
  // A canonical dotted quad is returned as is: no new string on the hot path.
  if (v4 !== -1) return { family: 4, text: input, v4, v6: NO_WORDS };
  const words = parseV6(input);
  if (words === undefined) return undefined;
  if (isMappedV4(words)) {
    const v4 = ((words[6]! << 16) | words[7]!) >>> 0;
    return { family: 4, text: v4Text(v4), v4, v6: NO_WORDS };
  }
  return { family: 6, text: v6Text(words), v4: 0, v6: words };
}

/** Canonical text of an address without building a {@link ParsedIp} for the common IPv4 case. */
export function ipText(input: string): string | undefined {
  return parseV4(input) !== -1 ? input : parseIp(input)?.text;
}

/**
 * The lookup key of `ip`'s network of length `prefix`: equal for all addresses inside it. A number for
 * IPv4 (a numeric Map key needs no string allocation or hashing), text for IPv6.
 */
export function networkKey(ip: ParsedIp, prefix: number): number | string {
  if (ip.family === 4) return prefix === 0 ? 0 : (ip.v4 & ((0xffffffff << (32 - prefix)) >>> 0)) >>> 0;
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
    const mappedFold = ip.family === 4 && parseV4(addrText) === -1;
    if (mappedFold) {
      if (prefix < 96 || prefix > 128) return `prefix length /${prefix} of an IPv4-mapped address must be 96-128`;
      prefix -= 96;
    }
    if (prefix > max) return `prefix length /${prefix} is longer than ${max}`;
  }
  const key = networkKey(ip, prefix);
  if (key !== networkKey(ip, max)) {
    const network = typeof key === 'number' ? v4Text(key) : v6Text(key.split(':').map((w) => parseInt(w, 16)));
    return `${input} has host bits set; did you mean ${network}/${prefix}?`;
  }
  return { family: ip.family, prefix, text: prefix === max ? ip.text : `${ip.text}/${prefix}`, key };
}
