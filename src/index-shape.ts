/**
 * One occupied index shape: the rules binding the same selectors with the same lookup variants, in one
 * hash map from a composite key to its rules, fronted by a Bloom filter (`key-filter.ts`). `RuleIndex`
 * keeps shapes in step with its rules; `rule-lookup.ts` probes them per attempt.
 */
import { combine, hashNumber, hashPart, hashText, KEY_SEED, KeyFilter } from './key-filter.js';
import type { Rule } from './rule.js';
import { BIT, KEY_SEPARATOR, MASK_BITS, mxVariant, remoteVariant, SENDER_DOMAIN, senderVariant } from './shape.js';

/** Rules sharing a shape and key differ only in `cluster`: at most two, kept as a rule or a pair. */
export type Slot = Rule | Rule[];
/** A rule's index key: its bound parts joined, a numeric IPv4 network as a number. */
export type Key = string | number;

/** An occupied shape (see the file comment). */
export interface Shape {
  readonly id: number;
  readonly mask: number;
  /** 0 exact, 1-127 wildcard labels, 128-160 IPv4 prefix 0-32, 161-289 IPv6 prefix 0-128. */
  readonly variant: number;
  /** 0 address or `<>`, 1-126 wildcard labels, 127 domain (only when the sender bit is set). */
  readonly sender: number;
  /** 0 exact, 1-127 wildcard labels (only when the mx bit is set). */
  readonly mx: number;
  readonly slots: Map<Key, Slot>;
  readonly filter: KeyFilter;
}

/** Whether a remote variant is an IPv4 CIDR prefix. */
export const isV4Cidr = (variant: number): boolean => variant >= 128 && variant < 161;

/** A new, empty shape for the shape id `id` (a rule's `shape`). */
export function newShape(id: number): Shape {
  return { id, mask: id & MASK_BITS, variant: remoteVariant(id), sender: senderVariant(id), mx: mxVariant(id), slots: new Map(), filter: new KeyFilter() };
}

/** The filter hash of a rule's key: its parts hashed as the lookup hashes the attempt's fields. */
export function keyHash(shape: Shape, key: Key): number {
  if (typeof key === 'number') return combine(KEY_SEED, hashNumber(key));
  if (shape.mask === 0) return KEY_SEED; // the selector-free rule: no parts
  // One bound selector, one part: the key itself (a v4 network is a number, handled above). No split per rule at load.
  if ((shape.mask & (shape.mask - 1)) === 0) return combine(KEY_SEED, hashText(key));
  const parts = key.split(KEY_SEPARATOR);
  // In a joined key a numeric IPv4 network became text: it follows the pool/mta part when there is one.
  const numeric = isV4Cidr(shape.variant) ? ((shape.mask & (BIT.pool | BIT.mta)) !== 0 ? 1 : 0) : -1;
  let h = KEY_SEED;
  for (let i = 0; i < parts.length; i++) h = combine(h, i === numeric ? hashNumber(Number(parts[i])) : hashPart(parts[i]!));
  return h;
}

/** Resizes a shape's filter for its keys plus `room` more, and adds its keys again. */
export function rebuild(shape: Shape, room: number): void {
  shape.filter.reset(shape.slots.size + room);
  for (const key of shape.slots.keys()) shape.filter.add(keyHash(shape, key));
}

/** One line of `RuleIndex.format`: bound selectors, lookup variants, keys and rules of `shape`. */
export function formatShape(shape: Shape): string {
  const names = Object.entries(BIT).sort((a, b) => b[1] - a[1]);
  const v = shape.variant;
  const variant = v === 0 ? 'exact' : v < 128 ? `wildcard/${v}` : v < 161 ? `ipv4/${v - 128}` : `ipv6/${v - 161}`;
  const envelope = ((shape.mask & BIT.sender) === 0 ? ''
    : ` sender:${shape.sender === 0 ? 'address' : shape.sender === SENDER_DOMAIN ? 'domain' : `wildcard/${shape.sender}`}`)
    + ((shape.mask & BIT.mx) === 0 ? '' : ` mx:${shape.mx === 0 ? 'exact' : `wildcard/${shape.mx}`}`);
  const bound = names.filter(([, bit]) => (shape.mask & bit) !== 0).map(([name]) => name).join('+') || '(none)';
  let rules = 0;
  for (const slot of shape.slots.values()) rules += Array.isArray(slot) ? slot.length : 1;
  return `${bound} ${variant}${envelope}: ${shape.slots.size} keys, ${rules} rules`;
}
