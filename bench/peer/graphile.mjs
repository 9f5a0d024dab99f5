// The benchmark peer: graphile-worker on one fresh PostgreSQL database.
//
// Run by lull-bench (scenario 8, bench/src/scenarios/peer.rs), never by hand
// in CI. It is given a database the bench created and will drop:
//
//   node bench/peer/graphile.mjs --url URL --jobs N --concurrency C \
//        --enqueue batch|single [--producers P] [--single-jobs K]
//
// with LULL_PEER_DIR naming the folder where graphile-worker is installed
// (target/bench-peer: `npm ci` of bench/peer/package-lock.json). It
//   1. installs graphile-worker's schema (not timed),
//   2. enqueues N no-op jobs, timed: one `addJobs` call (batch), or one
//      `addJob` per job from P concurrent producers (single; only the first
//      K jobs when K < N — one-by-one enqueue is slow here, a few hundred a
//      second — and the rest with `addJobs`, not timed),
//   3. runs graphile-worker's `run()` with concurrency C and a no-op task,
//      timed from the call until the last job's completion is committed
//      (graphile-worker deletes a job when it succeeds: the jobs table is
//      empty),
// and prints one JSON object on stdout. Everything else goes to stderr.
// graphile-worker runs with its defaults (no local queue, no batched
// completion), as a user who picks it would start it.

import { createRequire } from "node:module";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";

const { values: args } = parseArgs({
  options: {
    url: { type: "string" },
    jobs: { type: "string" },
    concurrency: { type: "string", default: "16" },
    enqueue: { type: "string", default: "batch" },
    producers: { type: "string", default: "16" },
    "single-jobs": { type: "string" },
  },
});
const dir = process.env.LULL_PEER_DIR;
if (!args.url || !args.jobs || !dir) {
  console.error("usage: LULL_PEER_DIR=DIR graphile.mjs --url URL --jobs N [--concurrency C] [--enqueue batch|single] [--producers P]");
  process.exit(2);
}
const jobs = Number(args.jobs);
const concurrency = Number(args.concurrency);
const producers = Number(args.producers);
const singleJobs = Math.min(jobs, Number(args["single-jobs"] ?? jobs));
if (!(jobs > 0 && concurrency > 0 && producers > 0 && singleJobs > 0) || !["batch", "single"].includes(args.enqueue)) {
  console.error(`bad arguments: ${JSON.stringify(args)}`);
  process.exit(2);
}

// graphile-worker is CommonJS, installed outside this folder.
const require = createRequire(path.join(path.resolve(dir), "package.json"));
const { makeWorkerUtils, run, Logger } = require("graphile-worker");
const { Client } = require("pg");
const version = require("graphile-worker/package.json").version;

// Warnings and errors only (its info log line per job would be the
// benchmark's biggest cost).
const logger = new Logger(() => (level, message) => {
  if (level === "error" || level === "warning") console.error(`graphile-worker ${level}: ${message}`);
});
// One connection per concurrent job, one for LISTEN, one spare: smaller
// pools make graphile-worker warn that it will run below its best.
const maxPoolSize = concurrency + 2;

const secondsSince = (t) => (performance.now() - t) / 1000;

async function remaining(client) {
  const r = await client.query("SELECT count(*)::int AS n FROM graphile_worker.jobs");
  return r.rows[0].n;
}

const utils = await makeWorkerUtils({ connectionString: args.url, logger, maxPoolSize });
await utils.migrate();

// 2. Enqueue.
const noops = (n) => Array.from({ length: n }, () => ({ identifier: "noop", payload: {} }));
let t = performance.now();
let enqueued = jobs;
if (args.enqueue === "batch") {
  await utils.addJobs(noops(jobs));
} else {
  let next = 0;
  await Promise.all(
    Array.from({ length: producers }, async () => {
      while (next < singleJobs) {
        next += 1;
        await utils.addJob("noop", {});
      }
    }),
  );
  enqueued = singleJobs;
}
const enqueueSeconds = secondsSince(t);
if (enqueued < jobs) await utils.addJobs(noops(jobs - enqueued));
await utils.release();

const check = new Client({ connectionString: args.url });
await check.connect();
const queued = await remaining(check);

// 3. Drain.
const succeeded = new Set();
let errors = 0;
let resolveAll;
const allDone = new Promise((resolve) => (resolveAll = resolve));
t = performance.now();
const runner = await run({
  connectionString: args.url,
  concurrency,
  maxPoolSize,
  noHandleSignals: true,
  logger,
  taskList: { noop: async () => {} },
});
runner.events.on("job:success", ({ job }) => {
  succeeded.add(String(job.id));
  if (succeeded.size >= jobs) resolveAll();
});
runner.events.on("job:error", () => {
  errors += 1;
});
// Bounded: a stuck run fails the scenario instead of hanging the bench.
const deadline = setTimeout(() => resolveAll(), 600_000);
await allDone;
clearTimeout(deadline);
// The last success is announced just before its completion is sent: the
// drain ends when the table is empty (polled only now, so the poll adds no
// load while jobs run).
let left = await remaining(check);
while (left > 0 && secondsSince(t) < 600) {
  await new Promise((r) => setTimeout(r, 2));
  left = await remaining(check);
}
const drainSeconds = secondsSince(t);
await runner.stop();
left = await remaining(check);
await check.end();

console.log(
  JSON.stringify({
    version,
    node: process.version,
    jobs,
    concurrency,
    enqueue: args.enqueue,
    // The jobs the enqueue timing covers.
    enqueued,
    enqueueSeconds,
    drainSeconds,
    queuedBeforeDrain: queued,
    succeeded: succeeded.size,
    errors,
    remaining: left,
  }),
);
