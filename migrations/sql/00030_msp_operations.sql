-- Cross-tenant bulk operations (issue 25): an MSP's command to devices of
-- many tenants, tracked as one operation. The operation is the MSP's row
-- (msp_isolation: written and read under tenancy.DB.MSPTx/MSPReadTx); its
-- part in each tenant is that tenant's row, written in the tenant's
-- audited transaction with the tenant's bulk command, which its MSP reads
-- across tenants (msp_read).

-- +goose Up
CREATE TABLE msp_operations (
    msp_id     uuid NOT NULL DEFAULT current_msp() REFERENCES msps (id) ON DELETE CASCADE,
    id         uuid NOT NULL,
    command    text NOT NULL CHECK (length(command) BETWEEN 1 AND 100),
    platform   text NOT NULL DEFAULT '' CHECK (platform IN ('', 'apple', 'windows', 'android')),
    created_by text NOT NULL CHECK (length(created_by) BETWEEN 1 AND 255),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (msp_id, id)
);
ALTER TABLE msp_operations ENABLE ROW LEVEL SECURITY;
ALTER TABLE msp_operations FORCE ROW LEVEL SECURITY;
CREATE POLICY msp_isolation ON msp_operations USING (msp_id = current_msp()) WITH CHECK (msp_id = current_msp());

CREATE TABLE msp_operation_tenants (
    tenant_id    uuid NOT NULL DEFAULT current_tenant(),
    msp_id       uuid NOT NULL,
    operation_id uuid NOT NULL,
    bulk_id      uuid, -- the tenant's bulk command (commands' created_by "bulk:<id>:..."); NULL when it did not start
    devices      integer NOT NULL DEFAULT 0 CHECK (devices >= 0), -- how many it could reach when it started
    problem      text NOT NULL DEFAULT '' CHECK (length(problem) <= 1000),
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, operation_id),
    FOREIGN KEY (tenant_id, msp_id) REFERENCES tenants (id, msp_id) ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX msp_operation_tenants_msp ON msp_operation_tenants (msp_id, operation_id);
ALTER TABLE msp_operation_tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE msp_operation_tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON msp_operation_tenants USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
CREATE POLICY msp_read ON msp_operation_tenants FOR SELECT USING (msp_id = current_msp());

-- +goose Down
DROP TABLE msp_operation_tenants;
DROP TABLE msp_operations;
