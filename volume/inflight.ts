/**
 * Counts the requests a server is working on so that shutdown can wait for them (bounded
 * by a grace period) before the store closes underneath them.
 */
export class InflightTracker {
  private readonly running = new Set<Promise<unknown>>();

  /** Registers `work` until it settles and returns it unchanged. */
  track<T>(work: Promise<T>): Promise<T> {
    const settled = work.then(
      () => undefined,
      () => undefined,
    );
    this.running.add(settled);
    void settled.then(() => this.running.delete(settled));
    return work;
  }

  get size(): number {
    return this.running.size;
  }

  /** Resolves when everything tracked so far has settled, or after `timeoutMs`; true if all settled. */
  async drain(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([Promise.all([...this.running]).then(() => true), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
