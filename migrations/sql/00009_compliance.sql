-- Compliance: per-tenant rules over the inventory, each device's current
-- result per rule, and the history of every change.

-- +goose Up
CREATE TABLE compliance_rules (
    tenant_id   uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid NOT NULL,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    platform    text CHECK (platform IN ('apple', 'windows', 'android')),  -- NULL: every platform
    kind        text NOT NULL CHECK (kind IN ('os_version_min', 'disk_encrypted', 'passcode_set',
                    'checked_in_within', 'firewall_enabled', 'app_required', 'app_forbidden')),
    params      jsonb NOT NULL DEFAULT '{}',
    remediation jsonb NOT NULL DEFAULT '{}',
    enabled     boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE compliance_results (
    tenant_id    uuid NOT NULL DEFAULT current_tenant(),
    device_id    uuid NOT NULL,
    rule_id      uuid NOT NULL,
    compliant    boolean NOT NULL,
    detail       text NOT NULL DEFAULT '',
    evaluated_at timestamptz NOT NULL DEFAULT now(),
    changed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, device_id, rule_id),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, rule_id) REFERENCES compliance_rules (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE compliance_history (
    tenant_id uuid NOT NULL DEFAULT current_tenant(),
    id        bigint GENERATED ALWAYS AS IDENTITY,
    device_id uuid NOT NULL,
    rule_id   uuid NOT NULL,
    compliant boolean NOT NULL,
    detail    text NOT NULL DEFAULT '',
    at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, rule_id) REFERENCES compliance_rules (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX compliance_history_device ON compliance_history (tenant_id, device_id, at);

-- +goose StatementBegin
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['compliance_rules', 'compliance_results', 'compliance_history']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant())', t);
    END LOOP;
END $$;
-- +goose StatementEnd

-- +goose Down
DROP TABLE compliance_history, compliance_results, compliance_rules;
