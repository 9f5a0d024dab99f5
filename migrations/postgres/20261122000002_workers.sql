-- The worker registry: one row per worker id (stable across restarts);
-- boot_id changes on every process start.
CREATE TABLE workers (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    hostname          TEXT NOT NULL,
    version           TEXT NOT NULL,
    labels            JSONB NOT NULL DEFAULT '{}',
    boot_id           TEXT NOT NULL,
    started_at        TIMESTAMPTZ NOT NULL,
    last_heartbeat_at TIMESTAMPTZ NOT NULL,
    reported_state    TEXT NOT NULL CHECK (reported_state IN ('running', 'paused', 'draining', 'stopped')),
    active_jobs       JSONB NOT NULL DEFAULT '[]',
    offline_backlog   INTEGER NOT NULL DEFAULT 0,
    desired_state     TEXT NOT NULL DEFAULT 'active' CHECK (desired_state IN ('active', 'paused', 'draining')),
    registered_at     TIMESTAMPTZ NOT NULL
);

-- Results submitted by workers, applied once per idempotency key.
CREATE TABLE worker_results (
    idempotency_key TEXT PRIMARY KEY,
    payload_type    TEXT NOT NULL,
    task_id         UUID,
    worker_id       TEXT NOT NULL,
    payload         JSONB NOT NULL,
    -- Canonical JSON of (payload_type, task_id, worker_id, payload): a
    -- repeat must match it exactly.
    fingerprint     TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('applying', 'applied', 'rejected')),
    outcome         TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ
);
CREATE INDEX worker_results_task ON worker_results (task_id);
