-- A request id remembers what it asked for (issue 15): the fingerprint of
-- the request (target, action, mode, reason, until, force, expected
-- version) that first used it, so a different request reusing the id is
-- refused (409 request_id_reused) instead of silently replayed. NULL on
-- events written before this migration and on events without a request id:
-- those ids replay as before.
ALTER TABLE system_control_events ADD COLUMN request_fingerprint TEXT;
