-- Apple Business Manager (ADE) per tenant: the tenant's server tokens,
-- the devices Apple assigned to them, and the ADE profiles Trident
-- defines with Apple and assigns to those devices.

-- +goose Up
CREATE TABLE dep_profiles (
    tenant_id  uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    id         uuid NOT NULL,
    name       text NOT NULL CHECK (name <> '' AND length(name) <= 200),
    settings   jsonb NOT NULL,       -- services/dep.ProfileSettings
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name)
);

CREATE TABLE dep_tokens (
    tenant_id   uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid NOT NULL,       -- with tenant_id, the DEP name nanodep knows it by
    label       text NOT NULL CHECK (label <> '' AND length(label) <= 200),
    certificate bytea NOT NULL,      -- DER: the admin uploads it to ABM, which encrypts the token to it
    key_sealed  bytea NOT NULL,      -- its private key, PEM, sealed
    tokens_sealed bytea,             -- the decrypted OAuth1 tokens (JSON), sealed; NULL until uploaded
    consumer_key text NOT NULL DEFAULT '',
    access_token_expiry timestamptz,
    status      text NOT NULL DEFAULT 'awaiting_token'
        CHECK (status IN ('awaiting_token', 'active', 'expiring', 'expired', 'terms_not_signed', 'rejected')),
    status_detail text NOT NULL DEFAULT '',
    account     jsonb,               -- Apple's account details, as last read
    cursor      text NOT NULL DEFAULT '',
    fetched     boolean NOT NULL DEFAULT false,  -- the full fetch is done: syncs follow
    synced_at   timestamptz,
    sync_error  text NOT NULL DEFAULT '',
    profile_id  uuid,                -- assigned automatically to devices Apple adds
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, profile_id) REFERENCES dep_profiles (tenant_id, id) ON DELETE SET NULL (profile_id)
);

-- The Apple profile_uuid of a profile's current settings, per token (each
-- ABM server defines its own profiles).
CREATE TABLE dep_profile_definitions (
    tenant_id     uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    token_id      uuid NOT NULL,
    profile_id    uuid NOT NULL,
    settings_hash bytea NOT NULL,
    apple_uuid    text NOT NULL,
    defined_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, token_id, profile_id),
    FOREIGN KEY (tenant_id, token_id) REFERENCES dep_tokens (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, profile_id) REFERENCES dep_profiles (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE dep_devices (
    tenant_id          uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    serial_number      text NOT NULL CHECK (serial_number <> '' AND length(serial_number) <= 64),
    token_id           uuid NOT NULL,
    model              text NOT NULL DEFAULT '',
    description        text NOT NULL DEFAULT '',
    color              text NOT NULL DEFAULT '',
    device_family      text NOT NULL DEFAULT '',
    os                 text NOT NULL DEFAULT '',
    asset_tag          text NOT NULL DEFAULT '',
    assigned_by        text NOT NULL DEFAULT '',
    assigned_at        timestamptz,
    profile_status     text NOT NULL DEFAULT 'empty',   -- Apple's: empty, assigned, pushed, removed
    apple_profile_uuid text NOT NULL DEFAULT '',
    profile_assigned_at timestamptz,
    profile_pushed_at  timestamptz,
    assign_profile_id  uuid,                            -- the Trident profile it should have
    assign_status      text NOT NULL DEFAULT 'none'
        CHECK (assign_status IN ('none', 'pending', 'assigned', 'failed', 'not_accessible')),
    assign_error       text NOT NULL DEFAULT '',
    enrolled_at        timestamptz,                     -- last ADE enrollment request
    added_at           timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, serial_number),
    FOREIGN KEY (tenant_id, token_id) REFERENCES dep_tokens (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, assign_profile_id) REFERENCES dep_profiles (tenant_id, id) ON DELETE SET NULL (assign_profile_id)
);
CREATE INDEX dep_devices_token ON dep_devices (tenant_id, token_id, serial_number);

-- +goose StatementBegin
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['dep_profiles', 'dep_tokens', 'dep_profile_definitions', 'dep_devices'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant())', t);
    END LOOP;
END $$;
-- +goose StatementEnd

-- +goose Down
DROP TABLE dep_devices;
DROP TABLE dep_profile_definitions;
DROP TABLE dep_tokens;
DROP TABLE dep_profiles;
