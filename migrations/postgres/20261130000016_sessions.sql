-- Dashboard sessions (issue 15): the cookie holds a random session id, not
-- the long-lived token; only the id's SHA-256 (hex) is stored. A session
-- ends when it is signed out (row deleted), when its token is revoked (rows
-- deleted in the revocation's transaction, and a revoked token's rows never
-- match), after it idles past the idle limit (last_seen_at) or at
-- expires_at, however active.
CREATE TABLE dashboard_sessions (
    id_hash      TEXT PRIMARY KEY,
    token_id     TEXT NOT NULL REFERENCES api_tokens (id),
    created_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX dashboard_sessions_token ON dashboard_sessions (token_id);
CREATE INDEX dashboard_sessions_expires ON dashboard_sessions (expires_at);
