-- The fleet's standing hour by hour, for the dashboard's charts
-- (compliance over time, check-ins by hour): an hourly job per tenant
-- takes the numbers (compliance.Snapshot), and keeps 90 days of them.

-- +goose Up
CREATE TABLE fleet_history (
    tenant_id     uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    hour          timestamptz NOT NULL CHECK (hour = date_trunc('hour', hour)),
    enrolled      integer NOT NULL CHECK (enrolled >= 0),
    compliant     integer NOT NULL CHECK (compliant >= 0),
    non_compliant integer NOT NULL CHECK (non_compliant >= 0),
    checked_in    integer NOT NULL CHECK (checked_in >= 0), -- enrolled devices seen within the hour before
    taken_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, hour)
);

ALTER TABLE fleet_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE fleet_history FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON fleet_history USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());

-- +goose Down
DROP TABLE fleet_history;
