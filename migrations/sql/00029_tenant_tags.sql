-- Tenant tags (issue 25): an MSP's labels on its tenants (region:eu,
-- plan:gold, retail), to filter the console by and, later, to assign
-- baselines by. A tag is the tenant's row (written in its transaction,
-- with its audit entry) that its MSP reads across its tenants under
-- MSPReadTx, as tenant_rollups.

-- +goose Up
CREATE TABLE tenant_tags (
    tenant_id  uuid NOT NULL DEFAULT current_tenant(),
    msp_id     uuid NOT NULL,
    tag        text NOT NULL CHECK (tag ~ '^[a-z0-9][a-z0-9:._-]{0,62}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, tag),
    FOREIGN KEY (tenant_id, msp_id) REFERENCES tenants (id, msp_id) ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX tenant_tags_msp_id ON tenant_tags (msp_id, tag);

ALTER TABLE tenant_tags ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_tags FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_tags USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
CREATE POLICY msp_read ON tenant_tags FOR SELECT USING (msp_id = current_msp());

-- +goose Down
DROP TABLE tenant_tags;
