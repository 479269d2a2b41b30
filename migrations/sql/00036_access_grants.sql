-- Delegated access (issue 26): an MSP identity's power in a tenant comes
-- from a grant with a role, a scope (the tenant, or device groups in it),
-- a reason and an expiry, requested by the MSP and approved by a tenant
-- admin or pre-authorized by the tenant's setting. services/identity owns
-- both tables; the audit log names the grant each action used.

-- +goose Up
-- A tenant's one setting for its MSP's access: 'standing' (the MSP's
-- admins administer the tenant at all times, as before; technicians need
-- grants, active on request), 'preauthorized' (everyone from the MSP needs
-- a grant, active on request) or 'approval' (a tenant admin approves each).
-- No row: 'standing'.
CREATE TABLE access_settings (
    tenant_id  uuid NOT NULL DEFAULT current_tenant(),
    msp_id     uuid NOT NULL, -- which reads it across its tenants (msp_read), as access_grants
    msp_access text NOT NULL CHECK (msp_access IN ('standing', 'preauthorized', 'approval')),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id),
    FOREIGN KEY (tenant_id, msp_id) REFERENCES tenants (id, msp_id) ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX access_settings_msp ON access_settings (msp_id);

CREATE TABLE access_grants (
    tenant_id    uuid NOT NULL DEFAULT current_tenant(),
    msp_id       uuid NOT NULL, -- the MSP it delegates to, which reads its tenants' grants (msp_read)
    id           uuid NOT NULL,
    subject      text NOT NULL CHECK (length(subject) BETWEEN 1 AND 255), -- the grantee's token sub
    subject_name text NOT NULL DEFAULT '' CHECK (length(subject_name) <= 200),
    role         text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    groups       text[] NOT NULL DEFAULT '{}', -- device group names; empty: the whole tenant
    reason       text NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
    break_glass  boolean NOT NULL DEFAULT false,
    duration     interval NOT NULL CHECK (duration > interval '0'),
    status       text NOT NULL CHECK (status IN ('requested', 'active', 'denied', 'revoked')),
    requested_by text NOT NULL CHECK (length(requested_by) BETWEEN 1 AND 255),
    requested_at timestamptz NOT NULL DEFAULT now(),
    decided_by   text NOT NULL DEFAULT '' CHECK (length(decided_by) <= 255), -- who approved or denied
    decided_at   timestamptz,
    expires_at   timestamptz, -- from activation; 'active' past it is expired
    revoked_by   text NOT NULL DEFAULT '' CHECK (length(revoked_by) <= 255),
    revoked_at   timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, msp_id) REFERENCES tenants (id, msp_id) ON DELETE CASCADE ON UPDATE CASCADE,
    CHECK (status <> 'active' OR expires_at IS NOT NULL),
    CHECK (status <> 'revoked' OR revoked_at IS NOT NULL)
);
CREATE INDEX access_grants_subject ON access_grants (tenant_id, subject, expires_at) WHERE status = 'active';
CREATE INDEX access_grants_requested ON access_grants (tenant_id, requested_at);
CREATE INDEX access_grants_msp ON access_grants (msp_id, subject);

ALTER TABLE access_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE access_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON access_settings
    USING (tenant_id = current_tenant())
    WITH CHECK (tenant_id = current_tenant());
CREATE POLICY msp_read ON access_settings FOR SELECT USING (msp_id = current_msp());
ALTER TABLE access_grants ENABLE ROW LEVEL SECURITY;
ALTER TABLE access_grants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON access_grants
    USING (tenant_id = current_tenant())
    WITH CHECK (tenant_id = current_tenant());
CREATE POLICY msp_read ON access_grants FOR SELECT USING (msp_id = current_msp());

-- How the actor of each entry held its power: 'tenant' (the tenant's own
-- role), 'msp' (an MSP admin's standing access), 'grant' or 'break_glass'
-- (a delegated grant, named in grant_id); '' for entries from before.
ALTER TABLE audit_log ADD COLUMN access text NOT NULL DEFAULT ''
    CHECK (access IN ('', 'tenant', 'msp', 'grant', 'break_glass'));
ALTER TABLE audit_log ADD COLUMN grant_id uuid;
CREATE INDEX audit_log_msp ON audit_log (tenant_id, id) WHERE access IN ('msp', 'grant', 'break_glass');

-- +goose Down
DROP INDEX audit_log_msp;
ALTER TABLE audit_log DROP COLUMN grant_id;
ALTER TABLE audit_log DROP COLUMN access;
DROP TABLE access_grants;
DROP TABLE access_settings;
