-- Baselines (issue 25): an MSP's versioned set of configuration items
-- (compliance rules first), assigned to its tenants (all, by slug, by
-- tag), applied through each tenant's own services, each tenant free to
-- override an item with a reason.
--
-- The baseline and its versions are the MSP's rows (msp_isolation); an
-- override is the tenant's row its MSP reads (msp_read); a rule a
-- baseline applied carries its baseline and item, unique in the tenant,
-- so applying again updates it in place and never duplicates it.

-- +goose Up
CREATE TABLE baselines (
    msp_id      uuid NOT NULL DEFAULT current_msp() REFERENCES msps (id) ON DELETE CASCADE,
    id          uuid NOT NULL,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    version     integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    items       jsonb NOT NULL DEFAULT '[]',
    assigned_to text[] NOT NULL DEFAULT '{}', -- "all", "tenant:<slug>", "tag:<tag>"
    created_by  text NOT NULL CHECK (length(created_by) BETWEEN 1 AND 255),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (msp_id, id),
    UNIQUE (msp_id, name)
);
ALTER TABLE baselines ENABLE ROW LEVEL SECURITY;
ALTER TABLE baselines FORCE ROW LEVEL SECURITY;
CREATE POLICY msp_isolation ON baselines USING (msp_id = current_msp()) WITH CHECK (msp_id = current_msp());

CREATE TABLE baseline_versions (
    msp_id      uuid NOT NULL DEFAULT current_msp(),
    baseline_id uuid NOT NULL,
    version     integer NOT NULL CHECK (version >= 1),
    items       jsonb NOT NULL,
    created_by  text NOT NULL CHECK (length(created_by) BETWEEN 1 AND 255),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (msp_id, baseline_id, version),
    FOREIGN KEY (msp_id, baseline_id) REFERENCES baselines (msp_id, id) ON DELETE CASCADE
);
ALTER TABLE baseline_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE baseline_versions FORCE ROW LEVEL SECURITY;
CREATE POLICY msp_isolation ON baseline_versions USING (msp_id = current_msp()) WITH CHECK (msp_id = current_msp());

CREATE TABLE baseline_overrides (
    tenant_id   uuid NOT NULL DEFAULT current_tenant(),
    msp_id      uuid NOT NULL,
    baseline_id uuid NOT NULL,
    item        text NOT NULL CHECK (item ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
    disabled    boolean NOT NULL DEFAULT false,
    params      jsonb, -- the item's params, changed (NULL: as the baseline says)
    reason      text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    created_by  text NOT NULL CHECK (length(created_by) BETWEEN 1 AND 255),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, baseline_id, item),
    FOREIGN KEY (tenant_id, msp_id) REFERENCES tenants (id, msp_id) ON DELETE CASCADE ON UPDATE CASCADE
);
ALTER TABLE baseline_overrides ENABLE ROW LEVEL SECURITY;
ALTER TABLE baseline_overrides FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON baseline_overrides USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
CREATE POLICY msp_read ON baseline_overrides FOR SELECT USING (msp_id = current_msp());

ALTER TABLE compliance_rules ADD COLUMN baseline_id uuid, ADD COLUMN baseline_item text,
    ADD CONSTRAINT compliance_rules_baseline_marked CHECK ((baseline_id IS NULL) = (baseline_item IS NULL));
CREATE UNIQUE INDEX compliance_rules_baseline ON compliance_rules (tenant_id, baseline_id, baseline_item) WHERE baseline_id IS NOT NULL;

-- +goose Down
DROP INDEX compliance_rules_baseline;
ALTER TABLE compliance_rules DROP CONSTRAINT compliance_rules_baseline_marked, DROP COLUMN baseline_item, DROP COLUMN baseline_id;
DROP TABLE baseline_overrides;
DROP TABLE baseline_versions;
DROP TABLE baselines;
