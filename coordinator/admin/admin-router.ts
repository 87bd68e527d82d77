/**
 * `/v1/admin` (DESIGN.md §4, issue 5 §2): operator jobs (verify, repair, rebalance, compact)
 * started here run in the background on this coordinator; `GET /v1/admin/jobs/<id>` follows
 * them. Draining a volume and Raft membership changes answer when they are committed. Every
 * error is a MinikvError; the app's error handler turns it into `{"error":{code,message}}`.
 */
import express, { type Request, type RequestHandler, type Router } from "express";
import { ErrorCode, MinikvError, toMinikvError } from "../../common/errors.js";
import { createLogger, type Logger } from "../../common/logger.js";
import { adminJobDefaults, type AdminJobConfig } from "./admin-config.js";
import {
  checkId,
  compactOptions,
  coordinatorMember,
  rebalanceOptions,
  repairOptions,
  verifyOptions,
} from "./admin-options.js";
import type { ClusterAccess } from "./cluster-access.js";
import { runCompact } from "./compact-job.js";
import { JobRegistry, type JobRun, type JobType } from "./job-registry.js";
import { runRebalance } from "./rebalance-job.js";
import { runRepair } from "./repair-job.js";
import { runVerify } from "./verify-job.js";

export interface AdminRouterDeps {
  readonly access: ClusterAccess;
  readonly logger?: Logger;
  readonly config?: Partial<AdminJobConfig>;
  /** The registry jobs are kept in (one is made when absent); close() it on shutdown. */
  readonly jobs?: JobRegistry;
}

interface JobStart {
  readonly options: object;
  readonly run: JobRun;
}

/** Admin JSON bodies are a few options: anything larger is not one. */
const ADMIN_BODY_BYTES_MAX = 16 * 1024;

export function adminRouter(deps: AdminRouterDeps): Router {
  const config: AdminJobConfig = { ...adminJobDefaults, ...deps.config };
  const logger = deps.logger ?? createLogger("admin");
  const jobs =
    deps.jobs ??
    new JobRegistry({ coordinatorId: deps.access.coordinatorId, logger, historyMax: config.jobHistoryMax });
  const { access } = deps;
  const router = express.Router();
  const json = jsonBody();

  type Starter = (body: unknown) => JobStart | Promise<JobStart>;
  const starters: Readonly<Record<JobType, Starter>> = {
    verify: (body) => {
      const options = verifyOptions(body);
      return { options, run: (context) => runVerify(access, options, config, context) };
    },
    repair: (body) => {
      const options = repairOptions(body, config);
      return { options, run: (context) => runRepair(access, options, config, context) };
    },
    rebalance: (body) => {
      const options = rebalanceOptions(body, config);
      return { options, run: (context) => runRebalance(access, options, config, context) };
    },
    compact: async (body) => {
      const options = compactOptions(body);
      if (options.volume !== undefined) await knownVolume(access, options.volume);
      return { options, run: (context) => runCompact(access, options, context) };
    },
  };
  for (const type of Object.keys(starters) as JobType[]) {
    router
      .route(`/v1/admin/${type}`)
      .post(json, async (req, res) => {
        const { options, run } = await starters[type](req.body);
        const job = jobs.start(type, withoutUndefined(options), run);
        res
          .status(202)
          .location(`/v1/admin/jobs/${encodeURIComponent(job.id)}`)
          .json({ job });
      })
      .all(methodNotAllowed);
  }

  router
    .route("/v1/admin/jobs")
    .get((_req, res) => {
      res.json({ jobs: jobs.list() });
    })
    .all(methodNotAllowed);
  router
    .route("/v1/admin/jobs/:id")
    .get((req, res) => {
      const id = param(req, "id");
      const job = jobs.get(id);
      if (job === undefined) throw new MinikvError(ErrorCode.NOT_FOUND, `no job "${id}" on this coordinator`);
      res.json({ job });
    })
    .all(methodNotAllowed);

  router
    .route("/v1/admin/volumes/:id/drain")
    .post(async (req, res) => {
      const id = checkId(param(req, "id"), "volume id");
      const views = await access.volumes();
      if (!views.some((v) => v.record.id === id))
        throw new MinikvError(ErrorCode.NOT_FOUND, `no volume "${id}"`);
      await access.drainVolume(id);
      res.json({ volume: id, state: "draining" });
    })
    .all(methodNotAllowed);

  router
    .route("/v1/admin/coordinators")
    .post(json, async (req, res) => {
      const { id, address } = coordinatorMember(req.body);
      await access.addCoordinator(id, address);
      res.json({ coordinator: id, address, added: true });
    })
    .all(methodNotAllowed);
  router
    .route("/v1/admin/coordinators/:id")
    .delete(async (req, res) => {
      const id = checkId(param(req, "id"), "coordinator id");
      await access.removeCoordinator(id);
      res.json({ coordinator: id, removed: true });
    })
    .all(methodNotAllowed);
  return router;
}

/**
 * express.json, strict, with its failures as INVALID_ARGUMENT / TOO_LARGE. A request with no
 * body (or no JSON content type and no bytes) has `req.body` undefined: no options.
 */
function jsonBody(): RequestHandler {
  const parse = express.json({ limit: ADMIN_BODY_BYTES_MAX, strict: false, type: () => true });
  return (req, res, next) => {
    parse(req, res, (err?: unknown) => {
      if (err === undefined || err === null) {
        next();
        return;
      }
      const type = (err as { type?: unknown }).type;
      const code = type === "entity.too.large" ? ErrorCode.TOO_LARGE : ErrorCode.INVALID_ARGUMENT;
      next(new MinikvError(code, `request body: ${toMinikvError(err).message}`, { cause: err }));
    });
  };
}

async function knownVolume(access: ClusterAccess, id: string): Promise<void> {
  const views = await access.volumes();
  if (!views.some((v) => v.record.id === id)) throw new MinikvError(ErrorCode.NOT_FOUND, `no volume "${id}"`);
}

function param(req: Request, name: string): string {
  const value: unknown = (req.params as Record<string, unknown>)[name];
  if (typeof value !== "string" || value.length === 0)
    throw new MinikvError(ErrorCode.INVALID_ARGUMENT, `missing ${name}`);
  return value;
}

function withoutUndefined(options: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
}

const methodNotAllowed: RequestHandler = (req) => {
  throw new MinikvError(ErrorCode.METHOD_NOT_ALLOWED, `${req.method} is not allowed on ${req.path}`);
};
