-- Device limits (issue 26): an MSP caps how many devices a tenant has
-- enrolled (its contract). services/inventory owns the row and refuses an
-- enrollment past it; the MSP reads its tenants' limits (msp_read).

-- +goose Up
CREATE TABLE device_limits (
    tenant_id    uuid NOT NULL DEFAULT current_tenant(),
    msp_id       uuid NOT NULL,
    device_limit int NOT NULL CHECK (device_limit >= 0),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id),
    FOREIGN KEY (tenant_id, msp_id) REFERENCES tenants (id, msp_id) ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX device_limits_msp ON device_limits (msp_id);
ALTER TABLE device_limits ENABLE ROW LEVEL SECURITY;
ALTER TABLE device_limits FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON device_limits
    USING (tenant_id = current_tenant())
    WITH CHECK (tenant_id = current_tenant());
CREATE POLICY msp_read ON device_limits FOR SELECT USING (msp_id = current_msp());

-- +goose Down
DROP TABLE device_limits;
