-- Usage metering (issue 26): what an MSP bills its tenants by. Each
-- device's enrolled spans are kept (services/inventory writes one when a
-- device becomes enrolled and closes it when it stops being so), and a
-- daily job (services/msp) turns them into per-tenant, per-platform
-- figures per UTC day: device-days (a device counts on a day it was
-- enrolled at any moment of), enrollments and unenrollments. A span
-- outlives its device, so the history bills what happened.

-- +goose Up
CREATE TABLE device_enrollments (
    tenant_id     uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    device_id     uuid NOT NULL,
    platform      text NOT NULL CHECK (platform IN ('apple', 'windows', 'android')),
    enrolled_at   timestamptz NOT NULL,
    unenrolled_at timestamptz CHECK (unenrolled_at >= enrolled_at),
    PRIMARY KEY (tenant_id, device_id, enrolled_at)
);
CREATE INDEX device_enrollments_open ON device_enrollments (tenant_id, device_id) WHERE unenrolled_at IS NULL;
CREATE INDEX device_enrollments_at ON device_enrollments (tenant_id, enrolled_at);

-- The devices enrolled now have a span from when they enrolled; what
-- happened before this migration was not recorded. As the owner, with
-- devices' row-level security not forced for the moment (this
-- transaction only).
ALTER TABLE devices NO FORCE ROW LEVEL SECURITY;
INSERT INTO device_enrollments (tenant_id, device_id, platform, enrolled_at)
SELECT tenant_id, id, platform, coalesce(enrolled_at, created_at) FROM devices WHERE status = 'enrolled';
ALTER TABLE devices FORCE ROW LEVEL SECURITY;

ALTER TABLE device_enrollments ENABLE ROW LEVEL SECURITY;
ALTER TABLE device_enrollments FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON device_enrollments
    USING (tenant_id = current_tenant())
    WITH CHECK (tenant_id = current_tenant());

-- One row per tenant, UTC day and platform, zeros included: a day with
-- rows is computed. The MSP reads its tenants' rows (msp_read).
CREATE TABLE usage_days (
    tenant_id     uuid NOT NULL DEFAULT current_tenant(),
    msp_id        uuid NOT NULL,
    day           date NOT NULL,
    platform      text NOT NULL CHECK (platform IN ('apple', 'windows', 'android')),
    device_days   int NOT NULL CHECK (device_days >= 0),
    enrollments   int NOT NULL CHECK (enrollments >= 0),
    unenrollments int NOT NULL CHECK (unenrollments >= 0),
    computed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, day, platform),
    FOREIGN KEY (tenant_id, msp_id) REFERENCES tenants (id, msp_id) ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX usage_days_msp ON usage_days (msp_id, day);

ALTER TABLE usage_days ENABLE ROW LEVEL SECURITY;
ALTER TABLE usage_days FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON usage_days
    USING (tenant_id = current_tenant())
    WITH CHECK (tenant_id = current_tenant());
CREATE POLICY msp_read ON usage_days FOR SELECT USING (msp_id = current_msp());

-- +goose Down
DROP TABLE usage_days;
DROP TABLE device_enrollments;
