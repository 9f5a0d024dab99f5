-- A timed pause: when the fleet resumes by itself; NULL for an open-ended
-- pause and while running.
ALTER TABLE worker_pause_state ADD COLUMN until_at TIMESTAMPTZ;
