/**
 * Runs async tasks with at most `concurrency` in flight. submit() waits for a free slot, so
 * a producer loop is paced by its consumers; the first failure stops new submissions and is
 * rethrown by submit() and drain().
 */
export class TaskPool {
  private readonly running = new Set<Promise<void>>();
  private failure: { readonly error: unknown } | undefined;

  constructor(private readonly concurrency: number) {}

  async submit(task: () => Promise<void>): Promise<void> {
    while (this.running.size >= this.concurrency) await Promise.race(this.running);
    this.throwIfFailed();
    const run: Promise<void> = task()
      .catch((error: unknown) => {
        this.failure ??= { error };
      })
      .finally(() => this.running.delete(run));
    this.running.add(run);
  }

  /** Waits for every submitted task; rethrows the first failure. */
  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
    this.throwIfFailed();
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure.error;
  }
}
