-- The unified device inventory and command queue, for all three platforms.
-- Platform protocols write them through services/inventory and
-- services/commands; the API and dashboard read them.

-- +goose Up
CREATE TABLE devices (
    tenant_id     uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    id            uuid NOT NULL,
    platform      text NOT NULL CHECK (platform IN ('apple', 'windows', 'android')),
    -- The platform's own identity: Apple's UDID (or enrollment id), the
    -- Windows device id, the AMAPI device name.
    identifier    text NOT NULL CHECK (length(identifier) BETWEEN 1 AND 300),
    serial_number text NOT NULL DEFAULT '' CHECK (length(serial_number) <= 100),
    name          text NOT NULL DEFAULT '' CHECK (length(name) <= 300),
    model         text NOT NULL DEFAULT '' CHECK (length(model) <= 200),
    os_version    text NOT NULL DEFAULT '' CHECK (length(os_version) <= 100),
    status        text NOT NULL DEFAULT 'enrolled' CHECK (status IN ('pending', 'enrolled', 'unenrolled')),
    facts         jsonb NOT NULL DEFAULT '{}',
    enrolled_at   timestamptz,
    last_seen_at  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, platform, identifier)
);
CREATE INDEX devices_name ON devices (tenant_id, lower(name), id);
CREATE INDEX devices_last_seen ON devices (tenant_id, last_seen_at DESC NULLS LAST, id);
CREATE INDEX devices_serial ON devices (tenant_id, serial_number);

CREATE TABLE commands (
    tenant_id    uuid NOT NULL DEFAULT current_tenant(),
    id           uuid NOT NULL,
    device_id    uuid NOT NULL,
    kind         text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_]{0,63}$'),
    payload      jsonb NOT NULL DEFAULT '{}',
    status       text NOT NULL DEFAULT 'queued'
                 CHECK (status IN ('queued', 'sent', 'acknowledged', 'error', 'not_now', 'expired', 'canceled')),
    attempts     int NOT NULL DEFAULT 0,
    created_by   text NOT NULL DEFAULT '',
    result       jsonb,
    error        text NOT NULL DEFAULT '' CHECK (length(error) <= 2000),
    expires_at   timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    sent_at      timestamptz,
    completed_at timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX commands_device ON commands (tenant_id, device_id, created_at DESC);
-- The queue a device drains: its open commands, oldest first.
CREATE INDEX commands_open ON commands (tenant_id, device_id, created_at)
    WHERE status IN ('queued', 'sent', 'not_now');

ALTER TABLE devices ENABLE ROW LEVEL SECURITY;
ALTER TABLE devices FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON devices
    USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
ALTER TABLE commands ENABLE ROW LEVEL SECURITY;
ALTER TABLE commands FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON commands
    USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());

-- +goose Down
DROP TABLE commands;
DROP TABLE devices;
