-- Per-tenant branding (issue 26): the name, logo, colours and support
-- contact a tenant's people and devices see: its enrollment pages, Apple
-- enrollment profiles and ADE profiles, its Android enterprise, and the
-- dashboard for its users. services/tenants owns it.

-- +goose Up
CREATE TABLE tenant_branding (
    tenant_id     uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    display_name  text NOT NULL DEFAULT '' CHECK (length(display_name) <= 100),
    primary_color text NOT NULL DEFAULT '' CHECK (primary_color = '' OR primary_color ~ '^#[0-9a-f]{6}$'),
    accent_color  text NOT NULL DEFAULT '' CHECK (accent_color = '' OR accent_color ~ '^#[0-9a-f]{6}$'),
    support_email text NOT NULL DEFAULT '' CHECK (length(support_email) <= 250),
    support_phone text NOT NULL DEFAULT '' CHECK (length(support_phone) <= 50),
    support_url   text NOT NULL DEFAULT '' CHECK (length(support_url) <= 500),
    logo          bytea CHECK (octet_length(logo) <= 262144),
    logo_type     text NOT NULL DEFAULT '' CHECK (logo_type IN ('', 'image/png', 'image/jpeg')),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id)
);
ALTER TABLE tenant_branding ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_branding FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_branding
    USING (tenant_id = current_tenant())
    WITH CHECK (tenant_id = current_tenant());

-- +goose Down
DROP TABLE tenant_branding;
