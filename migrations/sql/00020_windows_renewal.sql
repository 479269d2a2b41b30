-- Windows certificate renewal (MS-WSTEP Renew, "ROBO"): a renewal moves
-- the enrollment to the new certificate and keeps the one it renewed as
-- previous_serial, which keeps opening sessions until it expires (a device
-- may still present it until it has installed the new one).

-- +goose Up
ALTER TABLE windows_enrollments ADD COLUMN previous_serial text;
ALTER TABLE windows_enrollments ADD COLUMN renewed_at timestamptz;
CREATE INDEX windows_enrollments_previous_cert ON windows_enrollments (tenant_id, previous_serial) WHERE previous_serial IS NOT NULL;

-- +goose Down
DROP INDEX windows_enrollments_previous_cert;
ALTER TABLE windows_enrollments DROP COLUMN renewed_at, DROP COLUMN previous_serial;
