/**
 * `MessageStore`: accepted messages kept within a count and a byte budget, oldest evicted first, each
 * under a sequence id that doubles as a pagination cursor. Used by the fake MX and `serve`, which
 * would otherwise keep every message a long test run sends (RSS reached 1 GB after 80k messages).
 */
import { ValidationError } from '../index.js';

/** Options of {@link MessageStore}. */
export interface MessageStoreOptions {
  /** Most messages kept; the oldest goes first. @default 1000 */
  maxMessages?: number;
  /** Most raw bytes kept over all messages; the oldest go first. @default 104857600 (100 MiB) */
  maxBytes?: number;
}

/** A kept message and its id. */
export interface StoredMessage<M> {
  /** Decimal sequence number, unique for the store's lifetime (not reused after `clear()`). */
  readonly id: string;
  readonly message: M;
}

/** One page of a listing, oldest first. */
export interface MessagePage<M> {
  readonly items: readonly StoredMessage<M>[];
  /** Pass as `after` for the next page; `null` when this page reached the newest message. */
  readonly next: string | null;
}

/** The store's defaults, as documented. */
export const MESSAGE_STORE_DEFAULTS = Object.freeze({ maxMessages: 1000, maxBytes: 100 * 1024 * 1024 });

interface Entry<M> { readonly seq: number; readonly stored: StoredMessage<M>; readonly size: number }

const SEQUENCE = /^(0|[1-9]\d{0,15})$/;

function limit(value: number | undefined, fallback: number, param: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new ValidationError([{ code: 'invalid_option', message: `${param} must be a positive integer (got ${String(value)})`, param }]);
  }
  return value;
}

/**
 * A bounded, ordered store of messages with a `raw` body. Adding is O(1) amortised; lookup by id is
 * O(1); a page costs only its own items.
 *
 * @example
 * ```ts
 * const store = new MessageStore({ maxMessages: 500, maxBytes: 50 * 1024 * 1024 })
 * const id = store.add(message)
 * const { items, next } = store.page(undefined, 100)
 * ```
 */
export class MessageStore<M extends { readonly raw: Uint8Array }> {
  readonly maxMessages: number;
  readonly maxBytes: number;
  // Oldest first from `#head`; evicted slots before it are dropped in bulk so eviction stays O(1).
  #entries: (Entry<M> | undefined)[] = [];
  #head = 0;
  #bytes = 0;
  #nextSeq = 1;
  #evicted = 0;

  constructor(options: MessageStoreOptions = {}) {
    this.maxMessages = limit(options.maxMessages, MESSAGE_STORE_DEFAULTS.maxMessages, 'maxMessages');
    this.maxBytes = limit(options.maxBytes, MESSAGE_STORE_DEFAULTS.maxBytes, 'maxBytes');
  }

  /** Messages kept. */
  get size(): number { return this.#entries.length - this.#head; }
  /** Raw bytes kept. */
  get bytes(): number { return this.#bytes; }
  /** Messages evicted to stay within the budgets since the store was made. */
  get evicted(): number { return this.#evicted; }

  /**
   * Keeps `message` as the newest, evicting the oldest until both budgets hold, and returns its id.
   * Throws a `RangeError` for a message larger than `maxBytes` alone (it could never be kept).
   */
  add(message: M): string {
    const size = message.raw.byteLength;
    if (size > this.maxBytes) throw new RangeError(`a message of ${size} bytes exceeds the store's maxBytes of ${this.maxBytes}`);
    const seq = this.#nextSeq++;
    const stored: StoredMessage<M> = Object.freeze({ id: String(seq), message });
    this.#entries.push({ seq, stored, size });
    this.#bytes += size;
    while (this.size > this.maxMessages || this.#bytes > this.maxBytes) this.#evictOldest();
    return stored.id;
  }

  /** The kept message with this id, or `undefined` (unknown, malformed or evicted). */
  get(id: string): StoredMessage<M> | undefined {
    const first = this.#entries[this.#head];
    if (first === undefined || !SEQUENCE.test(id)) return undefined;
    return this.#entries[this.#head + Number(id) - first.seq]?.stored;
  }

  /**
   * Up to `count` messages with ids after `after` (from the oldest kept when `after` is omitted or
   * already evicted), oldest first.
   */
  page(after: string | undefined, count: number): MessagePage<M> {
    if (after !== undefined && !SEQUENCE.test(after)) throw new RangeError(`"${after}" is not a message id`);
    if (!Number.isSafeInteger(count) || count < 1) throw new RangeError(`count must be a positive integer (got ${count})`);
    const first = this.#entries[this.#head];
    if (first === undefined) return { items: [], next: null };
    const start = this.#head + Math.max(0, (after === undefined ? 0 : Number(after) + 1) - first.seq);
    const end = Math.min(start + count, this.#entries.length);
    const items: StoredMessage<M>[] = [];
    for (let i = start; i < end; i++) items.push(this.#entries[i]!.stored);
    return { items, next: end < this.#entries.length ? items[items.length - 1]!.id : null };
  }

  /** Every kept message, oldest first. */
  values(): M[] {
    const out: M[] = [];
    for (let i = this.#head; i < this.#entries.length; i++) out.push(this.#entries[i]!.stored.message);
    return out;
  }

  /** Forgets every message; ids keep counting up, so an old cursor never points at a new message. */
  clear(): void {
    this.#entries = [];
    this.#head = 0;
    this.#bytes = 0;
  }

  #evictOldest(): void {
    const entry = this.#entries[this.#head]!;
    this.#bytes -= entry.size;
    this.#evicted++;
    this.#entries[this.#head++] = undefined; // the slot must not keep the message alive
    // Drop the evicted prefix once it is the larger half: amortised O(1) per eviction.
    if (this.#head > 64 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
  }
}
