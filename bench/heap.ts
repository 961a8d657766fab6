// The memory a structure costs, for benchmarks run with --expose-gc.

/**
 * A meter of the JavaScript heap plus array buffers (the listing index keeps its keys in typed arrays,
 * outside the heap), read after full collections once the sweeper has freed earlier garbage's buffers.
 * @throws Error naming `script` when the process runs without --expose-gc.
 */
export function heapMeter(script: string): () => Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error(`run with --expose-gc (npm run ${script} does)`);
  return async () => {
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const { heapUsed, arrayBuffers } = process.memoryUsage();
    return heapUsed + arrayBuffers;
  };
}
