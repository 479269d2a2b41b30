-- Windows Federated enrollment: the OIDC provider whose users may enroll
-- Windows devices into the tenant (the customer's own: Entra ID, Okta,
-- Google, Keycloak), used by the tenant's login page at
-- /EnrollmentServer/Auth.

-- +goose Up
CREATE TABLE windows_federation (
    tenant_id       uuid PRIMARY KEY DEFAULT current_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    issuer          text NOT NULL CHECK (issuer <> '' AND length(issuer) <= 500),
    client_id       text NOT NULL CHECK (client_id <> '' AND length(client_id) <= 500),
    client_secret   bytea NOT NULL,            -- sealed with the encryption key
    allowed_domains text[] NOT NULL DEFAULT '{}', -- empty: any user the provider signs in
    updated_at      timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE windows_federation ENABLE ROW LEVEL SECURITY;
ALTER TABLE windows_federation FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON windows_federation USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());

-- +goose Down
DROP TABLE windows_federation;
