-- Android Enterprise through the Android Management API: each tenant's
-- enterprise, its policies and enrollment tokens, the operations of
-- commands sent through the API, and the Pub/Sub messages already handled.

-- +goose Up
CREATE TABLE android_enterprises (
    tenant_id     uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    status        text NOT NULL CHECK (status IN ('signing_up', 'bound', 'unbound')),
    signup_name   text NOT NULL DEFAULT '',   -- signupUrls/..., while signing up
    state_hash    bytea,                      -- sha256 of the callback's one-time state
    name          text NOT NULL DEFAULT '',   -- enterprises/..., once bound
    display_name  text NOT NULL DEFAULT '',
    pubsub_topic  text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id)
);

CREATE TABLE android_policies (
    tenant_id    uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    id           uuid NOT NULL,
    name         text NOT NULL CHECK (name <> '' AND length(name) <= 200),
    group_id     uuid,                       -- devices of this group get the policy
    settings     jsonb NOT NULL,             -- services/android.PolicySettings
    version      bigint NOT NULL DEFAULT 0,  -- AMAPI's version once published
    published_at timestamptz,
    publish_error text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name),
    FOREIGN KEY (tenant_id, group_id) REFERENCES device_groups (tenant_id, id) ON DELETE SET NULL (group_id)
);

CREATE TABLE android_enrollment_tokens (
    tenant_id   uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid NOT NULL,
    name        text NOT NULL,               -- enterprises/.../enrollmentTokens/...
    value       text NOT NULL,
    qr_code     text NOT NULL,               -- the provisioning payload the QR code carries
    policy_id   uuid NOT NULL,
    one_time    boolean NOT NULL,
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, policy_id) REFERENCES android_policies (tenant_id, id) ON DELETE CASCADE
);

-- A command sent through devices.issueCommand is followed by its
-- long-running operation; the COMMAND notification names it.
CREATE TABLE android_operations (
    tenant_id  uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    name       text NOT NULL,
    command_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, name),
    FOREIGN KEY (tenant_id, command_id) REFERENCES commands (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX android_operations_command ON android_operations (tenant_id, command_id);

-- Pub/Sub delivers at least once: a message handled once is not again.
CREATE TABLE android_notifications (
    tenant_id   uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    message_id  text NOT NULL,
    kind        text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, message_id)
);

-- +goose StatementBegin
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['android_enterprises', 'android_policies', 'android_enrollment_tokens', 'android_operations', 'android_notifications'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant())', t);
    END LOOP;
END $$;
-- +goose StatementEnd

-- +goose Down
DROP TABLE android_notifications;
DROP TABLE android_operations;
DROP TABLE android_enrollment_tokens;
DROP TABLE android_policies;
DROP TABLE android_enterprises;
