-- The MSP console (issue 25): each tenant's figures and what needs
-- attention in it, computed in the tenant's own transaction by a job
-- (the tenant loop) and read across the MSP's tenants in one query.
--
-- A rollup is a tenant row (tenant_isolation, as every tenant table) that
-- the tenant's MSP may also read: a transaction that sets app.msp_id
-- (tenancy.DB.MSPReadTx, read-only) sees the rollups of that MSP's
-- tenants and nothing else. The foreign key on (tenant_id, msp_id) makes
-- a row's MSP its tenant's own: a rollup cannot be filed under another.

-- +goose Up
-- +goose StatementBegin
-- current_msp() is the one reading of app.msp_id that policies use ('' is
-- no MSP, as for current_tenant()).
CREATE FUNCTION current_msp() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT NULLIF(current_setting('app.msp_id', true), '')::uuid $$;
-- +goose StatementEnd

ALTER TABLE tenants ADD CONSTRAINT tenants_id_msp_id UNIQUE (id, msp_id);

CREATE TABLE tenant_rollups (
    tenant_id     uuid NOT NULL DEFAULT current_tenant(),
    msp_id        uuid NOT NULL,
    last_event_id bigint NOT NULL DEFAULT 0 CHECK (last_event_id >= 0),
    computed_at   timestamptz NOT NULL DEFAULT now(),
    rollup        jsonb NOT NULL,
    PRIMARY KEY (tenant_id),
    FOREIGN KEY (tenant_id, msp_id) REFERENCES tenants (id, msp_id) ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX tenant_rollups_msp_id ON tenant_rollups (msp_id);

ALTER TABLE tenant_rollups ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_rollups FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_rollups USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
CREATE POLICY msp_read ON tenant_rollups FOR SELECT USING (msp_id = current_msp());

-- +goose StatementBegin
-- A new rollup tells the open consoles of its MSP (the listener's
-- trident_msp channel): "<msp id>:<tenant id>".
CREATE FUNCTION notify_rollup() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('trident_msp', NEW.msp_id::text || ':' || NEW.tenant_id::text);
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER tenant_rollups_notify AFTER INSERT OR UPDATE ON tenant_rollups
    FOR EACH ROW EXECUTE FUNCTION notify_rollup();

-- +goose Down
DROP TABLE tenant_rollups;
DROP FUNCTION notify_rollup();
ALTER TABLE tenants DROP CONSTRAINT tenants_id_msp_id;
DROP FUNCTION current_msp();
