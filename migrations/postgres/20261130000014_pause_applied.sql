-- Which pause version each worker has applied (issue 14): the version of
-- the global pause its runtime has acted on (drain: stopped claiming;
-- quiesce: also every running job held at a checkpoint, or none running),
-- and since when. NULL until the worker first reports one (older workers
-- never do).
ALTER TABLE workers ADD COLUMN applied_version BIGINT;
ALTER TABLE workers ADD COLUMN applied_at TIMESTAMPTZ;
