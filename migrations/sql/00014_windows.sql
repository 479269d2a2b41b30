-- Windows MDM (MS-MDE2 enrollment, OMA-DM management): each enrolled
-- device's enrollment, and the chunks of large results a device sends
-- across messages of a management session.

-- +goose Up
CREATE TABLE windows_enrollments (
    tenant_id     uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    device_id     text NOT NULL CHECK (device_id <> '' AND length(device_id) <= 200),  -- the DeviceID the device enrolled with
    cert_serial   text NOT NULL,             -- its enrollment certificate (services/pki)
    hw_dev_id     text NOT NULL DEFAULT '',
    device_type   text NOT NULL DEFAULT '',
    os_edition    text NOT NULL DEFAULT '',
    os_version    text NOT NULL DEFAULT '',
    enrolled_at   timestamptz NOT NULL DEFAULT now(),
    unenrolled_at timestamptz,
    PRIMARY KEY (tenant_id, device_id)
);
CREATE INDEX windows_enrollments_cert ON windows_enrollments (tenant_id, cert_serial);

CREATE TABLE windows_chunks (
    tenant_id  uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    device_id  text NOT NULL,
    cmd_ref    text NOT NULL,
    loc_uri    text NOT NULL,
    data       text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, device_id, cmd_ref, loc_uri),
    FOREIGN KEY (tenant_id, device_id) REFERENCES windows_enrollments (tenant_id, device_id) ON DELETE CASCADE
);

-- +goose StatementBegin
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['windows_enrollments', 'windows_chunks'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant())', t);
    END LOOP;
END $$;
-- +goose StatementEnd

-- +goose Down
DROP TABLE windows_chunks;
DROP TABLE windows_enrollments;
