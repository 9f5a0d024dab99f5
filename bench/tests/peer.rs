//! Scenario 8 end to end at a small size: graphile-worker (installed from
//! npm into `target/bench-peer`) and a real `lull` on PostgreSQL, 200 jobs
//! per run, one round of the five runs. Every run checks that each of its
//! jobs succeeded exactly once (graphile-worker: reported succeeded and gone
//! from its table; Lull: `succeeded` in the jobs table, nothing else there),
//! so the scenario returning at all is the proof.
//!
//! Prints SKIPPED and passes without `LULL_TEST_POSTGRES_URL`, or without
//! node and npm, except under `CI=true`, where both are required.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use bench::peer::Graphile;
use bench::scenarios::peer::{self, Drain, Fill, Size};
use bench::scenarios::Env;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lull_and_graphile_worker_each_run_every_job_once() {
    let Some(pg) = testkit::postgres_admin_url() else {
        return;
    };
    let graphile = match Graphile::install().expect("install graphile-worker") {
        Ok(g) => g,
        Err(missing) => {
            assert_ne!(
                std::env::var("CI").as_deref(),
                Ok("true"),
                "CI=true but graphile-worker cannot run: {missing}"
            );
            eprintln!("SKIPPED: {missing}; scenario 8 not run");
            return;
        }
    };
    assert_eq!(graphile.version, bench::peer::pinned_version().unwrap());
    // A second install finds the pinned version in place and does nothing.
    let manifest = graphile
        .dir
        .join("node_modules/graphile-worker/package.json");
    let before = std::fs::metadata(&manifest).unwrap().modified().unwrap();
    Graphile::install().unwrap().unwrap();
    assert_eq!(
        std::fs::metadata(&manifest).unwrap().modified().unwrap(),
        before,
        "the install is idempotent"
    );

    let env = Env {
        lull: bench::proc::build_lull(false).expect("build lull"),
        pg_admin: pg,
        quick: true,
    };
    let size = Size {
        jobs: 200,
        rounds: 1,
        single_timed: 50,
    };
    let r = peer::run(&env, &graphile, size).await.expect("scenario 8");

    let drains: Vec<Drain> = r.drains.iter().map(|(d, _)| *d).collect();
    assert_eq!(
        drains,
        [
            Drain::Peer,
            Drain::RestSingle,
            Drain::RestBatch,
            Drain::Peer,
            Drain::RestClaimNext,
            Drain::Runtime
        ],
        "the peer's runs alternate with Lull's"
    );
    for (d, s) in &r.drains {
        assert_eq!(s.jobs, 200, "{d:?}");
        assert!(s.seconds > 0.0 && s.rate().is_finite(), "{d:?}: {s:?}");
    }
    let fills: Vec<(Fill, usize)> = r.fills.iter().map(|(f, s)| (*f, s.jobs)).collect();
    assert_eq!(
        fills,
        [
            (Fill::PeerAddJobs, 200),
            (Fill::RestSingle, 200),
            (Fill::RestBatch, 200),
            (Fill::PeerAddJob, 50),
            (Fill::RestBatch, 200),
            (Fill::RestBatch, 200)
        ]
    );
    for d in [
        Drain::RestSingle,
        Drain::RestClaimNext,
        Drain::RestBatch,
        Drain::Runtime,
    ] {
        assert!(r.drain_ratio(d).unwrap() > 0.0, "{d:?}");
    }
    assert!(r.fill_time_ratio(Fill::RestBatch).unwrap() > 0.0);
}
