/**
 * A binary min-heap of rules by `expires`, so finding what has expired costs O(1) per check and
 * O(log n) per removal instead of a scan. Entries of rules since removed or replaced are skipped lazily
 * by the caller (it checks the rule is still current).
 */
import type { Rule } from './rule.js';

export class ExpiryQueue {
  #heap: Rule[] = [];
  /** Earliest expiry, or `Infinity` when empty: a plain field, read on every check. */
  next = Infinity;

  get size(): number {
    return this.#heap.length;
  }

  push(rule: Rule): void {
    const heap = this.#heap;
    heap.push(rule);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.expires! <= rule.expires!) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = rule;
    this.next = heap[0]!.expires!;
  }

  /** Removes and returns the rule with the earliest expiry. */
  pop(): Rule | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    this.next = heap.length === 0 ? Infinity : this.next;
    if (top === undefined || last === undefined || heap.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && heap[right]!.expires! < heap[left]!.expires! ? right : left;
      if (heap[child]!.expires! >= last.expires!) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
    this.next = heap[0]!.expires!;
    return top;
  }

  /** Keeps only the rules `keep` accepts (drops stale entries). A sorted array is a valid heap. */
  retain(keep: (rule: Rule) => boolean): void {
    this.#heap = this.#heap.filter(keep).sort((a, b) => a.expires! - b.expires!);
    this.next = this.#heap[0]?.expires ?? Infinity;
  }

  clear(): void {
    this.#heap = [];
    this.next = Infinity;
  }
}
