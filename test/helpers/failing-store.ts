import { MemoryStore, type RuleJSON } from '../../src/index.js';

/** A MemoryStore whose writes fail with "disk full" while `fail` is set. */
export class FailingStore extends MemoryStore {
  fail = false;
  override async put(rule: RuleJSON): Promise<number> {
    if (this.fail) throw new Error('disk full');
    return super.put(rule);
  }
  override async delete(ids: readonly string[]): Promise<number> {
    if (this.fail) throw new Error('disk full');
    return super.delete(ids);
  }
}
