import { describe, expect, it } from "vitest";
import { createLogger } from "../../common/logger.js";
import { MinikvError } from "../../common/errors.js";
import { JobRegistry, type JobReport } from "./job-registry.js";

function thrown(fn: () => unknown): MinikvError {
  try {
    fn();
  } catch (err) {
    if (err instanceof MinikvError) return err;
    throw err;
  }
  throw new Error("did not throw");
}

const registry = (historyMax = 4): JobRegistry =>
  new JobRegistry({ coordinatorId: "c1", logger: createLogger("test"), historyMax });

/** Job state as cli/admin-commands.ts reads it (issue 5 §2: server-side jobs with progress). */
describe("JobRegistry", () => {
  it("runs a job in the background: running with progress, then succeeded with its report", async () => {
    const jobs = registry();
    let finish = (_report: JobReport): void => undefined;
    const view = jobs.start("verify", { deep: true }, (context) => {
      context.progress(3, 10);
      return new Promise((resolve) => (finish = resolve));
    });
    expect(view).toMatchObject({
      type: "verify",
      state: "running",
      report: null,
      error: null,
      coordinator: "c1",
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(jobs.get(view.id)?.progress).toEqual({ done: 3, total: 10 });
    finish({ problems: 0 });
    const done = await jobs.settled(view.id);
    expect(done).toMatchObject({
      state: "succeeded",
      report: { problems: 0 },
      progress: { done: 10, total: 10 },
    });
    expect(done?.finishedAtMs).not.toBeNull();
  });

  it("a job that throws is failed with its code and message; a total below done is raised", async () => {
    const jobs = registry();
    const view = jobs.start("compact", {}, (context) => {
      context.progress(5, 2);
      return Promise.reject(new Error("disk on fire"));
    });
    const done = await jobs.settled(view.id);
    expect(done).toMatchObject({ state: "failed", error: "INTERNAL: disk on fire", report: null });
    expect(done?.progress).toEqual({ done: 5, total: 5 });
  });

  it("refuses a second job of a kind, and repair beside rebalance, with CONFLICT naming the running job", async () => {
    const jobs = registry();
    let release = (): void => undefined;
    const running = jobs.start(
      "rebalance",
      {},
      () => new Promise((resolve) => (release = () => resolve({}))),
    );
    expect(thrown(() => jobs.start("rebalance", {}, () => Promise.resolve({})))).toMatchObject({
      code: "CONFLICT",
      detail: { job: running.id },
    });
    expect(thrown(() => jobs.start("repair", {}, () => Promise.resolve({})))).toMatchObject({
      code: "CONFLICT",
    });
    const verify = jobs.start("verify", {}, () => Promise.resolve({}));
    release();
    await jobs.settled(running.id);
    await jobs.settled(verify.id);
    const again = jobs.start("repair", {}, () => Promise.resolve({}));
    expect((await jobs.settled(again.id))?.state).toBe("succeeded");
  });

  it("keeps a bounded history, oldest finished forgotten first; running jobs listed first", async () => {
    const jobs = registry(2);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const view = jobs.start("verify", {}, () => Promise.resolve({ i }));
      ids.push(view.id);
      await jobs.settled(view.id);
    }
    expect(jobs.get(ids[0] ?? "")).toBeUndefined();
    expect(jobs.get(ids[1] ?? "")).toBeUndefined();
    expect(jobs.list().map((j) => j.id)).toEqual([ids[3], ids[2]]);
    let release = (): void => undefined;
    const running = jobs.start("compact", {}, () => new Promise((resolve) => (release = () => resolve({}))));
    expect(jobs.list()[0]?.id).toBe(running.id);
    release();
    await jobs.settled(running.id);
  });

  it("close() stops running jobs through their signal and refuses new ones", async () => {
    const jobs = registry();
    const view = jobs.start(
      "repair",
      {},
      (context) =>
        new Promise((_resolve, reject) => {
          context.signal.addEventListener("abort", () => reject(context.signal.reason as Error));
        }),
    );
    await jobs.close();
    expect(jobs.get(view.id)?.state).toBe("failed");
    expect(jobs.get(view.id)?.error).toMatch(/^SHUTTING_DOWN/);
    expect(thrown(() => jobs.start("verify", {}, () => Promise.resolve({})))).toMatchObject({
      code: "SHUTTING_DOWN",
    });
  });
});
