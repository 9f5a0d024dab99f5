-- Retention of worker result records (issue 18's history audit): one row per
-- result a worker submitted, kept so that a replayed submission is answered
-- from it instead of applied twice. Finished records (applied or rejected)
-- are pruned with the finished jobs' retention; this index lets the pruner
-- find the oldest ones without reading the table.
CREATE INDEX worker_results_finished ON worker_results (finished_at) WHERE state <> 'applying';
