// Timed scenarios of the in-process benchmarks: all set up first, then measured in interleaved rounds,
// each keeping its fastest. On a shared machine load only ever adds time, and interleaving spreads it
// over all scenarios instead of penalising whichever ran during a burst.

/** One timed loop; `best` is its fastest round in ns per iteration. */
export interface Scenario { name: string; iterations: number; run: (i: number) => unknown; best: number }

/** Scenarios in the order they were added. */
export class Scenarios {
  readonly all: Scenario[] = [];
  /** Results that were not `undefined`: printed when negative, so the JIT cannot drop the loops. */
  sink = 0;

  add(name: string, iterations: number, run: (i: number) => unknown): Scenario {
    const s = { name, iterations, run, best: Infinity };
    this.all.push(s);
    return s;
  }

  /** Runs `list` (default: all) for `rounds` interleaved rounds. */
  measure(rounds: number, list: readonly Scenario[] = this.all): void {
    for (let round = 0; round < rounds; round++) {
      for (const s of list) {
        const start = process.hrtime.bigint();
        for (let i = 0; i < s.iterations; i++) if (s.run(i) !== undefined) this.sink++;
        s.best = Math.min(s.best, Number(process.hrtime.bigint() - start) / s.iterations);
      }
    }
  }
}
