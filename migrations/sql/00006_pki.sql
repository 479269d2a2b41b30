-- Each tenant's device CA, its SCEP enrollment challenges, and every
-- certificate it issued.

-- +goose Up
CREATE TABLE tenant_cas (
    tenant_id   uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid NOT NULL,
    certificate bytea NOT NULL,          -- DER
    key_sealed  bytea NOT NULL,          -- PKCS#8, sealed with the configured encryption key
    not_after   timestamptz NOT NULL,
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
-- One CA issues at a time; older ones stay to verify what they issued.
CREATE UNIQUE INDEX tenant_cas_active ON tenant_cas (tenant_id) WHERE active;

CREATE TABLE scep_challenges (
    tenant_id   uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid NOT NULL,
    hash        bytea NOT NULL,          -- SHA-256 of the challenge; the challenge itself is never stored
    purpose     text NOT NULL CHECK (length(purpose) BETWEEN 1 AND 100),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, hash)
);

CREATE TABLE issued_certificates (
    tenant_id    uuid NOT NULL DEFAULT current_tenant(),
    serial       text NOT NULL,          -- hex
    ca_id        uuid NOT NULL,
    challenge_id uuid,                   -- the enrollment it was issued for
    subject      text NOT NULL,
    renewal_of   text,                   -- the serial it renewed
    not_before   timestamptz NOT NULL,
    not_after    timestamptz NOT NULL,
    certificate  bytea NOT NULL,
    revoked_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, serial),
    FOREIGN KEY (tenant_id, ca_id) REFERENCES tenant_cas (tenant_id, id)
);

ALTER TABLE tenant_cas ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_cas FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_cas
    USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
ALTER TABLE scep_challenges ENABLE ROW LEVEL SECURITY;
ALTER TABLE scep_challenges FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON scep_challenges
    USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
ALTER TABLE issued_certificates ENABLE ROW LEVEL SECURITY;
ALTER TABLE issued_certificates FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON issued_certificates
    USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());

-- +goose Down
DROP TABLE issued_certificates;
DROP TABLE scep_challenges;
DROP TABLE tenant_cas;
