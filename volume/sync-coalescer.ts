/**
 * Shares fsyncs between concurrent writers of one file (group commit for segment files).
 * A caller's sync() resolves only after an fsync that *started* after the call: an fsync
 * already running when the call arrives may not cover the caller's write, so the call
 * waits for the next one, which then serves every caller that queued behind it.
 */
export class SyncCoalescer {
  private inFlight: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(private readonly doSync: () => Promise<void>) {}

  sync(): Promise<void> {
    if (this.inFlight === undefined) return this.start();
    this.queued ??= this.inFlight
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.start();
      });
    return this.queued;
  }

  private start(): Promise<void> {
    const run: Promise<void> = this.doSync().finally(() => {
      if (this.inFlight === run) this.inFlight = undefined;
    });
    this.inFlight = run;
    return run;
  }
}
