/**
 * The indexed rule set. Rules are grouped by shape (which selectors they bind, plus the wildcard depth
 * or CIDR prefix of the remote selector); each occupied shape is one hash map from a composite key to
 * its rules, fronted by a Bloom filter (`key-filter.ts`). A lookup probes every occupied shape once per
 * attempt tag at most, so its cost depends on the number of occupied shapes (a handful in practice,
 * bounded by the selector combinations) and of the attempt's tags, never on the number of rules.
 *
 * Every mutation is one synchronous call: JavaScript runs it to completion, so a lookup never sees half
 * of it. Copy-on-write snapshots would cost O(rules) per change for no gain in a single thread.
 */
import type { NormalizedAttempt } from './attempt.js';
import { networkKey } from './ip.js';
import { combine, hashNumber, hashPart, hashSuffixes, hashText, KEY_SEED, KeyFilter } from './key-filter.js';
import { comparePrecedence } from './precedence.js';
import { RuleCatalog } from './rule-catalog.js';
import type { Rule } from './rule.js';
import { BIT, KEY_SEPARATOR, MASK_BITS, mxVariant, remoteVariant, SENDER_DOMAIN, senderVariant } from './shape.js';

/** Rules sharing a shape and key differ only in `cluster`: at most two, kept as a rule or a pair. */
type Slot = Rule | Rule[];
type Key = string | number;

interface Shape {
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

const EMPTY: readonly Rule[] = Object.freeze([]);
const isV4Cidr = (variant: number) => variant >= 128 && variant < 161;

/** The filter hash of a rule's key: its parts hashed as the lookup hashes the attempt's fields. */
function keyHash(shape: Shape, key: Key): number {
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
function rebuild(shape: Shape, room: number): void {
  shape.filter.reset(shape.slots.size + room);
  for (const key of shape.slots.keys()) shape.filter.add(keyHash(shape, key));
}

// Per-lookup scratch space for the attempt's hashes (lookups are synchronous): no allocation per check.
const suffixHashes: number[] = [];
const tagHashes: number[] = [];
const senderHashes: number[] = [];
const mxHashes: number[] = [];
const ENVELOPE = BIT.sender | BIT.mx;

export class RuleIndex {
  readonly #byId = new Map<string, Rule>();
  readonly #shapes = new Map<number, Shape>();
  /** Occupied shapes as an array: iterating it is faster than iterating the map on the hot path. */
  #occupied: Shape[] = [];
  /** Whether any occupied shape binds sender or mx: otherwise their hashes are never computed. */
  #envelope = false;
  /** The listing index, kept in step here so that it never drifts from the match index. */
  readonly catalog = new RuleCatalog();

  /** Number of rules. */
  get size(): number {
    return this.#byId.size;
  }

  get(id: string): Rule | undefined {
    return this.#byId.get(id);
  }

  /** Rules in insertion order (an update keeps its place). */
  values(): IterableIterator<Rule> {
    return this.#byId.values();
  }

  /** Inserts `rule`, replacing the rule with the same id; returns the replaced one. */
  set(rule: Rule): Rule | undefined {
    const previous = this.#link(rule);
    this.catalog.set(rule, previous);
    return previous;
  }

  /**
   * Inserts many rules (a store's snapshot), as `set` would one by one, then calls `each` with every
   * rule and the one it replaced. Each shape's key filter is sized once for all its new keys, and the
   * listing index sorts its lists once, instead of growing with every rule.
   */
  load(rules: readonly Rule[], each: (rule: Rule, previous: Rule | undefined) => void): void {
    const added = new Map<number, number>();
    for (const rule of rules) added.set(rule.shape, (added.get(rule.shape) ?? 0) + 1);
    for (const [id, count] of added) rebuild(this.#shapes.get(id) ?? this.#occupy(id), count);
    // Rules that replaced one: absent in the usual case (a first load), when the batch itself goes to
    // the catalog as it is (measured: a map of a million fresh rules cost ~1 s of a million-rule load).
    let replaced: (Rule | undefined)[] | undefined;
    for (let i = 0; i < rules.length; i++) {
      const previous = this.#link(rules[i]!);
      if (previous !== undefined) (replaced ??= new Array<Rule | undefined>(rules.length))[i] = previous;
    }
    if (replaced === undefined) this.catalog.setMany(rules);
    else this.#catalogue(rules, replaced);
    for (let i = 0; i < rules.length; i++) each(rules[i]!, replaced?.[i]);
  }

  /** The catalog's part of a `load` where some rules replaced one (an update, or a duplicate id in the batch). */
  #catalogue(rules: readonly Rule[], replaced: readonly (Rule | undefined)[]): void {
    // Rules new to the catalog (replacing none, or one of this batch): recorded together.
    const fresh = new Map<string, Rule>();
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!;
      const previous = replaced[i];
      if (previous === undefined || fresh.get(rule.id) === previous) fresh.set(rule.id, rule);
      else this.catalog.set(rule, previous);
    }
    this.catalog.setMany([...fresh.values()]);
  }

  /** Puts `rule` into the match index (replacing its id); returns the replaced rule. */
  #link(rule: Rule): Rule | undefined {
    const previous = this.#byId.get(rule.id);
    if (previous) this.#unlink(previous);
    this.#byId.set(rule.id, rule);
    const shape = this.#shapes.get(rule.shape) ?? this.#occupy(rule.shape);
    const slot = shape.slots.get(rule.key);
    shape.slots.set(rule.key, slot === undefined ? rule : Array.isArray(slot) ? [...slot, rule] : [slot, rule]);
    if (slot === undefined && shape.filter.add(keyHash(shape, rule.key))) rebuild(shape, 0);
    return previous;
  }

  /** Removes the rule with `id`; returns it. */
  delete(id: string): Rule | undefined {
    const rule = this.#byId.get(id);
    if (!rule) return undefined;
    this.#byId.delete(id);
    this.#unlink(rule);
    this.catalog.delete(rule);
    return rule;
  }

  clear(): void {
    this.#byId.clear();
    this.#shapes.clear();
    this.catalog.clear();
    this.#reshaped();
  }

  #reshaped(): void {
    this.#occupied = [...this.#shapes.values()];
    this.#envelope = this.#occupied.some((shape) => (shape.mask & ENVELOPE) !== 0);
  }

  /** A new, empty shape (an index shape id is the rule's `shape`). */
  #occupy(id: number): Shape {
    const shape: Shape = {
      id, mask: id & MASK_BITS, variant: remoteVariant(id), sender: senderVariant(id), mx: mxVariant(id), slots: new Map(), filter: new KeyFilter(),
    };
    this.#shapes.set(id, shape);
    this.#reshaped();
    return shape;
  }

  #unlink(rule: Rule): void {
    const shape = this.#shapes.get(rule.shape)!;
    const slot = shape.slots.get(rule.key)!;
    const rest = Array.isArray(slot) ? slot.filter((r) => r.id !== rule.id) : [];
    if (rest.length > 0) {
      shape.slots.set(rule.key, rest.length === 1 ? rest[0]! : rest);
      return;
    }
    shape.slots.delete(rule.key);
    if (shape.slots.size === 0) {
      this.#shapes.delete(shape.id);
      this.#reshaped();
    } else if (shape.filter.remove()) {
      rebuild(shape, 0);
    }
  }

  /**
   * A readable dump of the index: one line per occupied shape (bound selectors, lookup variant, keys,
   * rules), in a stable order. For debugging and for tests that pin the index layout.
   */
  format(): string {
    const names = Object.entries(BIT).sort((a, b) => b[1] - a[1]);
    const variantText = (v: number) => (v === 0 ? 'exact' : v < 128 ? `wildcard/${v}` : v < 161 ? `ipv4/${v - 128}` : `ipv6/${v - 161}`);
    const envelopeText = (shape: Shape) => ((shape.mask & BIT.sender) === 0 ? ''
      : ` sender:${shape.sender === 0 ? 'address' : shape.sender === SENDER_DOMAIN ? 'domain' : `wildcard/${shape.sender}`}`)
      + ((shape.mask & BIT.mx) === 0 ? '' : ` mx:${shape.mx === 0 ? 'exact' : `wildcard/${shape.mx}`}`);
    return [...this.#shapes.values()]
      .sort((a, b) => a.id - b.id)
      .map((shape) => {
        const bound = names.filter(([, bit]) => (shape.mask & bit) !== 0).map(([name]) => name).join('+') || '(none)';
        let rules = 0;
        for (const slot of shape.slots.values()) rules += Array.isArray(slot) ? slot.length : 1;
        return `${bound} ${variantText(shape.variant)}${envelopeText(shape)}: ${shape.slots.size} keys, ${rules} rules`;
      })
      .join('\n');
  }

  /** Every rule matching `a` (ignoring expiry), in precedence order. */
  candidates(a: NormalizedAttempt): readonly Rule[] {
    const { pool, mta, domain, ip, recipient, tags, sender, senderDomain, mx } = a;
    // Sender and mx count as absent while no rule binds them: rule sets without them pay nothing more.
    const envelope = this.#envelope;
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
    const shapes = this.#occupied;
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
