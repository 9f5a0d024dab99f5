-- The global pause: a singleton row (id = 1), version starting at 1.
CREATE TABLE worker_pause_state (
    id             SMALLINT PRIMARY KEY CHECK (id = 1),
    workers_paused BOOLEAN NOT NULL DEFAULT FALSE,
    mode           TEXT CHECK (mode IN ('drain', 'quiesce')),
    reason         TEXT,
    requested_by   TEXT,
    requested_at   TIMESTAMPTZ,
    paused_at      TIMESTAMPTZ,
    resumed_at     TIMESTAMPTZ,
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    version        BIGINT NOT NULL DEFAULT 1 CHECK (version >= 1)
);
INSERT INTO worker_pause_state (id) VALUES (1);

-- The append-only audit log of control actions.
CREATE TABLE system_control_events (
    id            BIGSERIAL PRIMARY KEY,
    action        TEXT NOT NULL,
    mode          TEXT,
    reason        TEXT NOT NULL,
    actor         TEXT NOT NULL,
    force_resume  BOOLEAN NOT NULL DEFAULT FALSE,
    queued        BIGINT NOT NULL,
    running       BIGINT NOT NULL,
    stale_running BIGINT NOT NULL,
    is_drained    BOOLEAN NOT NULL,
    version       BIGINT NOT NULL,
    success       BOOLEAN NOT NULL,
    request_id    TEXT UNIQUE,
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE jobs (
    id                   UUID PRIMARY KEY,
    type                 TEXT NOT NULL,
    payload              JSONB NOT NULL,
    priority             INTEGER NOT NULL DEFAULT 0,
    status               TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    attempts             INTEGER NOT NULL DEFAULT 0,
    max_attempts         INTEGER NOT NULL,
    worker_id            TEXT,
    lease_token          UUID,
    lease_seconds        INTEGER,
    lease_expires_at     TIMESTAMPTZ,
    run_after            TIMESTAMPTZ NOT NULL,
    paused_at_checkpoint BOOLEAN NOT NULL DEFAULT FALSE,
    result               JSONB,
    error                TEXT,
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL,
    started_at           TIMESTAMPTZ,
    finished_at          TIMESTAMPTZ
);
-- The claim query: next queued job by priority, then age.
CREATE INDEX jobs_claimable ON jobs (priority DESC, run_after, created_at) WHERE status = 'queued';
-- Requeue of expired leases and drain metrics.
CREATE INDEX jobs_running_lease ON jobs (lease_expires_at) WHERE status = 'running';
CREATE INDEX jobs_status_created ON jobs (status, created_at DESC);
CREATE INDEX jobs_started_at ON jobs (started_at);
