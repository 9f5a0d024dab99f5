-- Per-worker actions are control events too: whom they targeted, and each
-- worker's result.
ALTER TABLE system_control_events ADD COLUMN targets JSONB NOT NULL DEFAULT '[]';
ALTER TABLE system_control_events ADD COLUMN details JSONB;

-- Rolling restarts; the per-worker progress is kept as JSON.
CREATE TABLE rolling_restarts (
    id               UUID PRIMARY KEY,
    status           TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'cancelled')),
    max_unavailable  INTEGER NOT NULL,
    deadline_seconds INTEGER NOT NULL,
    reason           TEXT NOT NULL,
    actor            TEXT NOT NULL,
    workers          JSONB NOT NULL,
    message          TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    finished_at      TIMESTAMPTZ
);
-- Only one rolling restart runs at a time.
CREATE UNIQUE INDEX rolling_restarts_one_running ON rolling_restarts ((status)) WHERE status = 'running';
