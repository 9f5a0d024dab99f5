-- The worker registry: one row per worker id (stable across restarts);
-- boot_id changes on every process start. Timestamps: INTEGER ms.
CREATE TABLE workers (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    hostname          TEXT NOT NULL,
    version           TEXT NOT NULL,
    labels            TEXT NOT NULL DEFAULT '{}',
    boot_id           TEXT NOT NULL,
    started_at        INTEGER NOT NULL,
    last_heartbeat_at INTEGER NOT NULL,
    reported_state    TEXT NOT NULL CHECK (reported_state IN ('running', 'paused', 'draining', 'stopped')),
    active_jobs       TEXT NOT NULL DEFAULT '[]',
    offline_backlog   INTEGER NOT NULL DEFAULT 0,
    desired_state     TEXT NOT NULL DEFAULT 'active' CHECK (desired_state IN ('active', 'paused', 'draining')),
    registered_at     INTEGER NOT NULL
);

-- Results submitted by workers, applied once per idempotency key.
CREATE TABLE worker_results (
    idempotency_key TEXT PRIMARY KEY,
    payload_type    TEXT NOT NULL,
    task_id         TEXT,
    worker_id       TEXT NOT NULL,
    payload         TEXT NOT NULL,
    fingerprint     TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('applying', 'applied', 'rejected')),
    outcome         TEXT,
    created_at      INTEGER NOT NULL,
    finished_at     INTEGER
);
CREATE INDEX worker_results_task ON worker_results (task_id);
