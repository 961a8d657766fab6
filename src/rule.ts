/**
 * The rule model: identity (selector -> id), serialisation in MailerQ's shape, and the precomputed
 * facts the index and the precedence order need.
 */
import { createHash } from 'node:crypto';
import type { Fault, FaultKind, TlsFault } from './fault.js';
import type { ForcedResult } from './result.js';
import type { Phase, RuleSpec, SelectorFields } from './rule-input.js';

/** Selector bits. Their numeric order is precedence step 3: binding tag beats recipient beats ... pool. */
export const BIT = { pool: 1, mta: 2, domain: 4, ip: 8, recipient: 16, tag: 32 } as const;

/** Lookup variant of a shape: exact values, wildcard depth, or CIDR prefix per family. */
export const VARIANT_EXACT = 0;
export const variantWildcard = (labels: number): number => labels; // 1..127
export const variantCidr = (family: 4 | 6, prefix: number): number => (family === 4 ? 128 + prefix : 161 + prefix);

/** Separator of the parts of an index key; no normalised value can contain it (control characters are rejected). */
export const KEY_SEPARATOR = '\n';

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
}

/** The canonical selector text a rule's id is derived from. */
export function selectorText(spec: RuleSpec): string {
  return JSON.stringify([spec.cluster, spec.pool ?? null, spec.mta ?? null, spec.domain?.text ?? null,
    spec.ip?.text ?? null, spec.recipient?.text ?? null, spec.tag ?? null]);
}

/** Deterministic id of a selector: every instance of a cluster derives the same id for the same rule. */
export function ruleId(spec: RuleSpec): string {
  // Hex of the first 10 bytes, encoded directly: slicing the full hex digest would keep all 64
  // characters alive behind every id (measured: ~80 bytes per rule).
  return createHash('sha256').update(selectorText(spec)).digest().toString('hex', 0, 10);
}

/** The rarely set fields of a rule, grouped so that rules without them share one frozen object. */
interface RuleOptions {
  readonly extended: string | undefined;
  readonly description: string | readonly string[] | undefined;
  readonly probability: number | undefined;
  readonly expires: number | undefined;
  readonly priority: number;
  readonly phase: Phase;
  readonly delay: number;
  readonly fault: Fault | undefined;
}

const DEFAULT_OPTIONS: RuleOptions = Object.freeze({
  extended: undefined, description: undefined, probability: undefined, expires: undefined, priority: 0, phase: 'rcpt', delay: 0, fault: undefined,
});

function optionsOf(spec: RuleSpec): RuleOptions {
  const { extended, description, probability, expires, priority, phase, delay, fault } = spec;
  if (extended === undefined && description === undefined && probability === undefined && expires === undefined
    && priority === 0 && phase === 'rcpt' && delay === 0 && fault === undefined) return DEFAULT_OPTIONS;
  return Object.freeze({ extended, description, probability, expires, priority, phase, delay, fault });
}

/**
 * An active forced-error rule. Selector and reply fields are immutable; `hits` and `times` change as
 * attempts match. Adding a rule with the same selector replaces it with a new `Rule` (same `id`,
 * `created` and `hits`).
 */
export class Rule {
  /** Deterministic id derived from the selector (cluster, pool, mta, domain, ip, recipient, tag). */
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
  /** @internal Index shape: selector bits (low 6) plus lookup variant. Mask and specificity derive from it. */
  readonly shape: number;
  /** @internal Index key within the shape: the parts joined, or the single part itself. */
  readonly key: string | number;
  /** @internal The forced result, built on the first hit and reused (a rule is immutable but for counters). */
  result: ForcedResult | undefined = undefined;

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
    if (spec.tag !== undefined) { mask |= BIT.tag; parts.push(spec.tag); }
    this.shape = mask | (variant << 6);
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
    return this.shape & 63;
  }

  /**
   * @internal Precedence step 4: exact domain/IP (1000) beats wildcard (its label count) and CIDR (its
   * prefix length); 0 when the rule binds neither.
   */
  get specificity(): number {
    const variant = this.shape >> 6;
    if (variant === VARIANT_EXACT) return (this.shape & (BIT.domain | BIT.ip)) !== 0 ? 1000 : 0;
    return variant < 128 ? variant : variant < 161 ? variant - 128 : variant - 161;
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
