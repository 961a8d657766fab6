/**
 * The lookup: every occupied shape probed once per attempt tag at most, so its cost depends on the
 * number of occupied shapes (a handful in practice, bounded by the selector combinations) and of the
 * attempt's tags, never on the number of rules. Each field is hashed once; shapes combine the hashes
 * with integer arithmetic and ask their Bloom filter before building a key.
 */
import type { NormalizedAttempt } from './attempt.js';
import type { Key, Shape, Slot } from './index-shape.js';
import { isV4Cidr } from './index-shape.js';
import { networkKey } from './ip.js';
import { combine, hashNumber, hashSuffixes, hashText, KEY_SEED } from './key-filter.js';
import { comparePrecedence } from './precedence.js';
import type { Rule } from './rule.js';
import { BIT, KEY_SEPARATOR, SENDER_DOMAIN } from './shape.js';

const EMPTY: readonly Rule[] = Object.freeze([]);

// Per-lookup scratch space for the attempt's hashes (lookups are synchronous): no allocation per check.
const suffixHashes: number[] = [];
const tagHashes: number[] = [];
const senderHashes: number[] = [];
const mxHashes: number[] = [];
/** The selector bits of the envelope (sender, mx). */
export const ENVELOPE = BIT.sender | BIT.mx;

/**
 * Every rule of the occupied `shapes` matching `a` (ignoring expiry), in precedence order. `envelope`:
 * whether any of them binds sender or mx (otherwise their hashes are never computed).
 */
export function lookup(shapes: readonly Shape[], envelope: boolean, a: NormalizedAttempt): readonly Rule[] {
  const { pool, mta, domain, ip, recipient, tags, sender, senderDomain, mx } = a;
  // Sender and mx count as absent while no rule binds them: rule sets without them pay nothing more.
  const available = (pool !== undefined ? BIT.pool : 0) | (mta !== undefined ? BIT.mta : 0)
    | (domain !== undefined ? BIT.domain : 0) | (ip !== undefined ? BIT.ip : 0)
    | (recipient !== undefined ? BIT.recipient : 0) | (tags.length > 0 ? BIT.tag : 0)
    | (envelope && sender !== undefined ? BIT.sender : 0) | (envelope && mx !== undefined ? BIT.mx : 0);
  // Each field is hashed once per lookup; shapes combine the hashes with integer arithmetic only.
  const hPool = pool !== undefined ? hashText(pool) : 0;
  const hMta = mta !== undefined ? hashText(mta) : 0;
  const labels = domain !== undefined ? hashSuffixes(domain, suffixHashes) : 0;
  const hIp = ip !== undefined ? hashText(ip.text) : 0;
  const hRecipient = recipient !== undefined ? hashText(recipient) : 0;
  for (let t = 0; t < tags.length; t++) tagHashes[t] = hashText(tags[t]!);
  const hSender = (available & BIT.sender) !== 0 ? hashText(sender!) : 0;
  const senderLabels = (available & BIT.sender) !== 0 && senderDomain !== undefined ? hashSuffixes(senderDomain, senderHashes) : 0;
  const mxLabels = (available & BIT.mx) !== 0 ? hashSuffixes(mx!, mxHashes) : 0;
  let found: Rule[] | undefined;
  for (let s = 0; s < shapes.length; s++) {
    const shape = shapes[s]!;
    const mask = shape.mask;
    if ((mask & ~available) !== 0) continue;
    const variant = shape.variant;
    let h = KEY_SEED;
    let side: string | undefined;
    if (mask & BIT.pool) { side = pool; h = combine(h, hPool); } else if (mask & BIT.mta) { side = mta; h = combine(h, hMta); }
    let part: Key | undefined;
    if (mask & BIT.domain) {
      if (variant === 0) { part = domain; h = combine(h, suffixHashes[labels]!); } else {
        if (labels <= variant) continue; // a wildcard never matches its apex
        h = combine(h, suffixHashes[variant]!);
      }
    } else if (mask & BIT.ip) {
      if (variant === 0) { part = ip!.text; h = combine(h, hIp); } else {
        if ((ip!.family === 4) !== isV4Cidr(variant)) continue;
        part = networkKey(ip!, variant - (ip!.family === 4 ? 128 : 161));
        h = combine(h, typeof part === 'number' ? hashNumber(part) : hashText(part));
      }
    } else if (mask & BIT.recipient) {
      part = recipient;
      h = combine(h, hRecipient);
    }
    if (mask & ENVELOPE) {
      if (mask & BIT.sender) {
        const sv = shape.sender;
        if (sv === 0) h = combine(h, hSender);
        else if (sv === SENDER_DOMAIN ? senderLabels === 0 : senderLabels <= sv) continue; // `<>` has no domain; never the apex
        else h = combine(h, senderHashes[sv === SENDER_DOMAIN ? senderLabels : sv]!);
      }
      if (mask & BIT.mx) {
        if (shape.mx !== 0 && mxLabels <= shape.mx) continue;
        h = combine(h, mxHashes[shape.mx === 0 ? mxLabels : shape.mx]!);
      }
    }
    if (mask & BIT.tag) {
      for (let t = 0; t < tags.length; t++) {
        if (!shape.filter.has(combine(h, tagHashes[t]!))) continue;
        found = collect(shape.slots.get(joinKey(side, part ?? suffixPart(domain, mask, variant), envelopePart(a, shape), tags[t])), a, found);
      }
    } else if (shape.filter.has(h)) {
      found = collect(shape.slots.get(joinKey(side, part ?? suffixPart(domain, mask, variant), envelopePart(a, shape), undefined)), a, found);
    }
  }
  if (found === undefined) return EMPTY;
  return found.length > 1 ? found.sort(comparePrecedence) : found;
}

/** The wildcard key part (the domain's last `variant` labels); only built once the filter lets a probe through. */
function suffixPart(domain: string | undefined, mask: number, variant: number): string | undefined {
  if ((mask & BIT.domain) === 0 || variant === 0) return undefined;
  return suffix(domain!, variant);
}

/** The last `labels` labels of `name`. */
function suffix(name: string, labels: number): string {
  let at = name.length;
  for (let n = 0; n < labels; n++) at = name.lastIndexOf('.', at - 1);
  return name.slice(at + 1);
}

/** The sender and mx key parts of `shape` (joined), built only once the filter lets a probe through. */
function envelopePart(a: NormalizedAttempt, shape: Shape): string | undefined {
  const mask = shape.mask;
  if ((mask & ENVELOPE) === 0) return undefined;
  let part: string | undefined;
  if (mask & BIT.sender) {
    const sv = shape.sender;
    part = sv === 0 ? a.sender! : sv === SENDER_DOMAIN ? a.senderDomain! : suffix(a.senderDomain!, sv);
  }
  if (mask & BIT.mx) {
    const mx = shape.mx === 0 ? a.mx! : suffix(a.mx!, shape.mx);
    part = part === undefined ? mx : part + KEY_SEPARATOR + mx;
  }
  return part;
}

/** The key as the rule side builds it: bound parts joined (side, remote, sender, mx, tag), a single part as is. */
function joinKey(side: string | undefined, remote: Key | undefined, envelope: string | undefined, tag: string | undefined): Key {
  let key: Key | undefined = side;
  if (remote !== undefined) key = key === undefined ? remote : key + KEY_SEPARATOR + remote;
  if (envelope !== undefined) key = key === undefined ? envelope : key + KEY_SEPARATOR + envelope;
  if (tag !== undefined) key = key === undefined ? tag : key + KEY_SEPARATOR + tag;
  return key ?? '';
}

function collect(slot: Slot | undefined, a: NormalizedAttempt, into: Rule[] | undefined): Rule[] | undefined {
  if (slot === undefined) return into;
  if (!Array.isArray(slot)) return a.phase === undefined || slot.phase === a.phase ? push(into, slot) : into;
  for (const rule of slot) if (a.phase === undefined || rule.phase === a.phase) into = push(into, rule);
  return into;
}

function push(into: Rule[] | undefined, rule: Rule): Rule[] {
  if (into === undefined) return [rule];
  into.push(rule);
  return into;
}
