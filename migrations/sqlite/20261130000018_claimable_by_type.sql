-- Claims by one job type (a worker that handles one type, like most) walk
-- this index in claim order and stop after the batch, whatever the table's
-- statistics say (issue 18: without it, a typed claim right after a bulk
-- enqueue sorted every queued job).
CREATE INDEX jobs_claimable_type ON jobs (type, priority DESC, run_after, created_at) WHERE status = 'queued';
