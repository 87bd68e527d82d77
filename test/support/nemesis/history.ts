/**
 * What the clients saw: one record per request, with invoke and complete times on the test
 * process's monotonic clock. An outcome is "ok" (the answer is known), "fail" (the request
 * certainly had no effect) or "unknown" (a write that timed out or failed in a way that
 * leaves open whether it committed: it may take effect at any time after its call, or never).
 */
export type Outcome = "ok" | "fail" | "unknown";

export type BlobResult =
  | { readonly kind: "put" }
  | { readonly kind: "get"; readonly valueId: string | null }
  | { readonly kind: "delete"; readonly existed: boolean }
  | { readonly kind: "list"; readonly keys: readonly string[] };

export interface BlobRecord {
  readonly clientId: number;
  readonly kind: "put" | "get" | "delete" | "list";
  /** The key, or for a LIST the prefix. */
  readonly key: string;
  /** The value a PUT wrote. */
  readonly valueId?: string;
  readonly coordinator: string;
  readonly callMs: number;
  readonly returnMs: number;
  readonly outcome: Outcome;
  readonly result?: BlobResult;
  /** HTTP status, when an answer came. */
  readonly status?: number;
  /** The error code of a JSON error body, or the transport error's code. */
  readonly code?: string;
  readonly detail?: string;
}

/** A history, in completion order, shared by every client of one run. */
export class History {
  readonly records: BlobRecord[] = [];

  add(record: BlobRecord): void {
    this.records.push(record);
  }

  /** Counts by "kind outcome status code", for reports. */
  summary(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const r of this.records) {
      const label = `${r.kind} ${r.outcome}${r.status === undefined ? "" : ` ${r.status}`}${r.code === undefined ? "" : ` ${r.code}`}`;
      counts[label] = (counts[label] ?? 0) + 1;
    }
    return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
  }
}
