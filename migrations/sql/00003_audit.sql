-- The audit log: who changed what, in which tenant, through which request.
-- Append-only for the app role: it may insert and read, never update or
-- delete (migrations.Up revokes those).

-- +goose Up
CREATE TABLE audit_log (
    tenant_id   uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    id          bigint GENERATED ALWAYS AS IDENTITY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL CHECK (length(actor) BETWEEN 1 AND 200),       -- the token's subject
    actor_name  text NOT NULL DEFAULT '' CHECK (length(actor_name) <= 200),
    action      text NOT NULL CHECK (length(action) BETWEEN 1 AND 100),      -- the API operation id
    target      text NOT NULL DEFAULT '' CHECK (length(target) <= 500),      -- the resource path
    request_id  text NOT NULL DEFAULT '' CHECK (length(request_id) <= 100),
    status      int NOT NULL DEFAULT 0,
    details     jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_log_tenant_at ON audit_log (tenant_id, at);

ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_log
    USING (tenant_id = current_tenant())
    WITH CHECK (tenant_id = current_tenant());

-- +goose Down
DROP TABLE audit_log;
