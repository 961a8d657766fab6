/**
 * The index shape of a rule as one small integer: which selectors it binds and how each wildcard or
 * range selector is looked up. `rule.ts` computes it, `rule-index.ts` groups rules by it, and
 * `precedence.ts` ranks its selector bits.
 */

/**
 * Selector bits. Precedence step 3 ranks them tag > recipient > sender > ip > mx > domain > mta > pool
 * (`precedence.ts`); `sender` and `mx` came last, so they take the high bits and the older shapes keep
 * their ids.
 */
export const BIT = { pool: 1, mta: 2, domain: 4, ip: 8, recipient: 16, tag: 32, sender: 64, mx: 128 } as const;

/** Bits of a shape: selector mask (8), remote variant (9), sender variant (7), mx variant (7). */
export const MASK_BITS = 255;
export const remoteVariant = (shape: number): number => (shape >> 8) & 511;
export const senderVariant = (shape: number): number => (shape >> 17) & 127;
export const mxVariant = (shape: number): number => (shape >> 24) & 127;
/** Sender variant of a domain sender (`example.com`); 0 is an address or `<>`, 1-126 a wildcard's labels. */
export const SENDER_DOMAIN = 127;

/** Lookup variant of a shape's remote selector: exact values, wildcard depth, or CIDR prefix per family. */
export const VARIANT_EXACT = 0;
export const variantWildcard = (labels: number): number => labels; // 1..127
export const variantCidr = (family: 4 | 6, prefix: number): number => (family === 4 ? 128 + prefix : 161 + prefix);

/** Separator of the parts of an index key; no normalised value can contain it (control characters are rejected). */
export const KEY_SEPARATOR = '\n';
