/**
 * The rule model: serialisation in MailerQ's shape, and the precomputed facts the index and the
 * precedence order need. Identity (selector -> id) is `rule-id.ts`; the rarely set fields `rule-options.ts`.
 */
import type { Fault, FaultKind, TlsFault } from './fault.js';
import type { ForcedResult } from './result.js';
import type { GreylistSpec, RateSpec } from './gate-input.js';
import { optionsOf, type RuleOptions } from './rule-options.js';
import type { Phase, RuleSpec, SelectorFields } from './rule-input.js';
import { BIT, KEY_SEPARATOR, MASK_BITS, mxVariant, remoteVariant, SENDER_DOMAIN, senderVariant, VARIANT_EXACT, variantCidr, variantWildcard } from './shape.js';

/** The JSON form of a rule: MailerQ's fields first (absent ones omitted, `cluster` always), then ours. */
export interface RuleJSON extends SelectorFields {
  cluster: boolean;
  /** The reply code; absent on a fault rule. */
  code?: number;
  extended?: string;
  /** One line, or the lines of a multi-line reply. */
  description?: string | string[];
  id: string;
  times?: number;
  probability?: number;
  /** ISO-8601. */
  expires?: string;
  priority?: number;
  phase?: Phase;
  delay?: number;
  /** Durations in seconds. */
  greylist?: { delay: number; window: number; lifetime: number };
  /** `window` in seconds. */
  rate?: { limit: number; window: number; per: RateSpec['per'] };
  /** The connection fault, instead of a reply. */
  fault?: FaultKind;
  afterBytes?: number;
  bytesPerSecond?: number;
  tls?: TlsFault;
  /** ISO-8601. */
  created: string;
  /** ISO-8601. */
  updated: string;
  hits: number;
  /**
   * The revision of a stored rule: set by the engine on what it writes to a store (a new value for
   * every write), so budgets and changes name the revision they belong to. Never in `toJSON`.
   */
  revision?: string;
}

/**
 * An active forced-error rule. Selector and reply fields are immutable; `hits` and `times` change as
 * attempts match. Adding a rule with the same selector replaces it with a new `Rule` (same `id`,
 * `created` and `hits`).
 */
export class Rule {
  /** Deterministic id derived from the selector (cluster, pool, mta, domain, ip, recipient, tag, sender, mx). */
  readonly id: string;
  /** SMTP reply code; 0 on a rule forcing a {@link Rule.fault}. */
  readonly code: number;
  readonly pool: string | undefined;
  readonly mta: string | undefined;
  /** Canonical domain, `*.suffix` for a wildcard. */
  readonly domain: string | undefined;
  /** Canonical IP, or `network/prefix`. */
  readonly ip: string | undefined;
  readonly recipient: string | undefined;
  readonly tag: string | undefined;
  readonly cluster: boolean;
  /**
   * @internal The rarely set fields, shared by every rule that sets none of them: 7 fields fewer per
   * rule (measured: ~50 bytes of heap per rule at 1M rules).
   */
  readonly options: RuleOptions;
  /** Epoch milliseconds. */
  readonly created: number;
  /** @internal Epoch milliseconds of the last update; undefined while equal to `created` (saves a boxed number per rule). */
  readonly changed: number | undefined;
  /** @internal Remaining applications, or undefined for unlimited. */
  remaining: number | undefined;
  /** @internal Number of attempts this rule has forced. */
  count: number;
  /** @internal Index shape: selector bits (low 8) plus lookup variants. Mask and specificity derive from it. */
  readonly shape: number;
  /** @internal Index key within the shape: the parts joined, or the single part itself. */
  readonly key: string | number;
  /** @internal The forced result, built on the first hit and reused (a rule is immutable but for counters). */
  result: ForcedResult | undefined = undefined;
  /**
   * @internal The revision of the stored write this rule was installed from or written as (`''`: none).
   * A field rather than a WeakMap entry: measured ~0.7 µs less per rule restored, and no ephemeron for
   * the garbage collector to trace per rule.
   */
  revision = '';
  /**
   * @internal Listing order, set by the index on install: the unpaginated listing is in insertion order
   * (an update keeps its place), and a filtered one found through the catalog is sorted by this.
   */
  seq = 0;

  /** @internal Use `Interceptor.add`. */
  constructor(spec: RuleSpec, id: string, created: number, updated: number, hits: number) {
    this.id = id;
    this.code = spec.code ?? 0;
    this.pool = spec.pool;
    this.mta = spec.mta;
    this.domain = spec.domain?.text;
    this.ip = spec.ip?.text;
    this.recipient = spec.recipient?.text;
    this.tag = spec.tag;
    this.cluster = spec.cluster;
    this.options = optionsOf(spec);
    this.created = created;
    this.changed = updated === created ? undefined : updated;
    this.remaining = spec.times;
    this.count = hits;

    let mask = 0;
    const parts: (string | number)[] = [];
    if (spec.pool !== undefined) { mask |= BIT.pool; parts.push(spec.pool); }
    if (spec.mta !== undefined) { mask |= BIT.mta; parts.push(spec.mta); }
    let variant = VARIANT_EXACT;
    if (spec.domain) {
      mask |= BIT.domain;
      parts.push(spec.domain.name);
      variant = spec.domain.wildcard ? variantWildcard(spec.domain.labels) : VARIANT_EXACT;
    }
    if (spec.ip) {
      mask |= BIT.ip;
      const exact = spec.ip.prefix === (spec.ip.family === 4 ? 32 : 128);
      parts.push(exact ? spec.ip.text : spec.ip.key);
      variant = exact ? VARIANT_EXACT : variantCidr(spec.ip.family, spec.ip.prefix);
    }
    if (spec.recipient) { mask |= BIT.recipient; parts.push(spec.recipient.text); }
    let envelope = 0;
    if (spec.sender) {
      mask |= BIT.sender;
      parts.push(spec.sender.name);
      const kind = spec.sender.kind;
      envelope = (kind === 'wildcard' ? spec.sender.labels : kind === 'domain' ? SENDER_DOMAIN : 0) << 17;
    }
    if (spec.mx) {
      mask |= BIT.mx;
      parts.push(spec.mx.name);
      envelope |= (spec.mx.wildcard ? spec.mx.labels : 0) << 24;
    }
    if (spec.tag !== undefined) { mask |= BIT.tag; parts.push(spec.tag); }
    this.shape = mask | (variant << 8) | envelope;
    // A single part is used as is, so the key shares the field's string instead of copying it.
    this.key = parts.length === 1 ? parts[0]! : parts.join(KEY_SEPARATOR);
  }

  /** Enhanced status code as given (the forced result defaults it to `<class>.0.0`). */
  get extended(): string | undefined {
    return this.options.extended;
  }

  /** Reply text as given: one line, or the lines of a multi-line reply. */
  get description(): string | readonly string[] | undefined {
    return this.options.description;
  }

  /** Fraction of matching attempts the rule applies to; `undefined` for all. */
  get probability(): number | undefined {
    return this.options.probability;
  }

  /** Epoch milliseconds after which the rule no longer matches. */
  get expires(): number | undefined {
    return this.options.expires;
  }

  /** Explicit precedence: higher wins. */
  get priority(): number {
    return this.options.priority;
  }

  /** SMTP stage of the forced reply. */
  get phase(): Phase {
    return this.options.phase;
  }

  /** Milliseconds to wait before the forced reply. */
  get delay(): number {
    return this.options.delay;
  }

  /** Envelope sender selector: `<>`, an address, a domain or `*.domain`. */
  get sender(): string | undefined {
    return this.options.sender;
  }

  /** MX host selector: a host name or `*.suffix`. */
  get mx(): string | undefined {
    return this.options.mx;
  }

  /** Greylisting durations in milliseconds, when the rule greylists. */
  get greylist(): GreylistSpec | undefined {
    return this.options.greylist;
  }

  /** Rate limit (`window` in milliseconds), when the rule has one. */
  get rate(): RateSpec | undefined {
    return this.options.rate;
  }

  /** The connection fault forced instead of a reply; `undefined` on a reply rule. */
  get fault(): Fault | undefined {
    return this.options.fault;
  }

  /** Epoch milliseconds of the last update (`created` until updated). */
  get updated(): number {
    return this.changed ?? this.created;
  }

  /** @internal Selector bits bound by this rule (see {@link BIT}). */
  get mask(): number {
    return this.shape & MASK_BITS;
  }

  /**
   * @internal Precedence step 4: exact domain/IP (1000) beats wildcard (its label count) and CIDR (its
   * prefix length); 0 when the rule binds neither.
   */
  get specificity(): number {
    const variant = remoteVariant(this.shape);
    if (variant === VARIANT_EXACT) return (this.shape & (BIT.domain | BIT.ip)) !== 0 ? 1000 : 0;
    return variant < 128 ? variant : variant < 161 ? variant - 128 : variant - 161;
  }

  /**
   * @internal Precedence step 4, after {@link specificity}: sender address or `<>` (1000) beats sender
   * domain (500) beats sender wildcard (its label count); then exact mx (1000) beats mx wildcard (labels).
   * Packed in one number: sender part times 1024 plus mx part.
   */
  get envelopeSpecificity(): number {
    if ((this.shape & (BIT.sender | BIT.mx)) === 0) return 0;
    const s = senderVariant(this.shape);
    const m = mxVariant(this.shape);
    const sender = (this.shape & BIT.sender) === 0 ? 0 : s === 0 ? 1000 : s === SENDER_DOMAIN ? 500 : s;
    const mx = (this.shape & BIT.mx) === 0 ? 0 : m === 0 ? 1000 : m;
    return sender * 1024 + mx;
  }

  /** Remaining applications before the rule removes itself; `undefined` when unlimited. */
  get times(): number | undefined {
    return this.remaining;
  }

  /** Number of attempts this rule has forced. */
  get hits(): number {
    return this.count;
  }

  /** Number of selector fields the rule binds (precedence step 2). */
  get bound(): number {
    let n = 0;
    for (let m = this.mask; m !== 0; m &= m - 1) n++;
    return n;
  }

  /** MailerQ's shape plus our fields; absent and default values omitted, `cluster` always present. */
  toJSON(): RuleJSON {
    const json: Partial<RuleJSON> = {};
    if (this.pool !== undefined) json.pool = this.pool;
    if (this.mta !== undefined) json.mta = this.mta;
    if (this.domain !== undefined) json.domain = this.domain;
    if (this.ip !== undefined) json.ip = this.ip;
    if (this.recipient !== undefined) json.recipient = this.recipient;
    if (this.tag !== undefined) json.tag = this.tag;
    if (this.sender !== undefined) json.sender = this.sender;
    if (this.mx !== undefined) json.mx = this.mx;
    json.cluster = this.cluster;
    const fault = this.fault;
    if (fault === undefined) json.code = this.code;
    if (this.extended !== undefined) json.extended = this.extended;
    const description = this.description;
    if (description !== undefined) json.description = typeof description === 'string' ? description : [...description];
    json.id = this.id;
    if (this.remaining !== undefined) json.times = this.remaining;
    if (this.probability !== undefined) json.probability = this.probability;
    if (this.expires !== undefined) json.expires = new Date(this.expires).toISOString();
    if (this.priority !== 0) json.priority = this.priority;
    if (this.phase !== 'rcpt') json.phase = this.phase;
    if (this.delay !== 0) json.delay = this.delay;
    const { greylist, rate } = this.options;
    if (greylist !== undefined) json.greylist = { delay: greylist.delay / 1000, window: greylist.window / 1000, lifetime: greylist.lifetime / 1000 };
    if (rate !== undefined) json.rate = { limit: rate.limit, window: rate.window / 1000, per: rate.per };
    if (fault !== undefined) {
      json.fault = fault.kind;
      if ('afterBytes' in fault && fault.afterBytes !== undefined) json.afterBytes = fault.afterBytes;
      if (fault.kind === 'throttle') json.bytesPerSecond = fault.bytesPerSecond;
      if (fault.kind === 'tls') json.tls = fault.tls;
    }
    json.created = new Date(this.created).toISOString();
    json.updated = new Date(this.changed ?? this.created).toISOString();
    json.hits = this.count;
    return json as RuleJSON;
  }
}
