-- People's dashboard sessions, kept server-side so that signing out (or
-- an admin's revocation) ends a session everywhere at once: the browser's
-- cookie carries only a random token; its SHA-256 keys the row, which
-- holds the session sealed with the server's encryption key
-- (services/identity/sessions.go). Not a tenant table: a session is a
-- person's, and an MSP admin's spans tenants; it holds no tenant's data
-- beyond the person's own roles, sealed.

-- +goose Up
CREATE TABLE dashboard_sessions (
    id          bytea PRIMARY KEY CHECK (length(id) = 32),
    subject     text NOT NULL,
    data_sealed bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    ended_at    timestamptz
);
CREATE INDEX dashboard_sessions_subject ON dashboard_sessions (subject);
CREATE INDEX dashboard_sessions_expires ON dashboard_sessions (expires_at);

-- +goose Down
DROP TABLE dashboard_sessions;
