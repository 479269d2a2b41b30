-- Apple MDM protocol state, as nanomdm's storage interfaces need it, on
-- Trident's schema: every key starts with tenant_id, and every table has
-- row-level security. (nanomdm's own tables are global; these are not.)

-- +goose Up
CREATE TABLE apple_devices (
    tenant_id           uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    id                  text NOT NULL CHECK (id <> '' AND length(id) <= 255),  -- the UDID (or EnrollmentID)
    identity_cert       text,
    serial_number       text CHECK (serial_number IS NULL OR serial_number <> ''),
    unlock_token        bytea,
    unlock_token_at     timestamptz,
    authenticate        text NOT NULL CHECK (authenticate <> ''),
    authenticate_at     timestamptz NOT NULL,
    token_update        text,
    token_update_at     timestamptz,
    bootstrap_token_b64 text,
    bootstrap_token_at  timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE apple_users (
    tenant_id                   uuid NOT NULL DEFAULT current_tenant(),
    id                          text NOT NULL CHECK (id <> ''),
    device_id                   text NOT NULL,
    user_short_name             text,
    user_long_name              text,
    token_update                text,
    token_update_at             timestamptz,
    user_authenticate           text,
    user_authenticate_at        timestamptz,
    user_authenticate_digest    text,
    user_authenticate_digest_at timestamptz,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, device_id) REFERENCES apple_devices (tenant_id, id) ON DELETE CASCADE
);

-- Device and user channels alike.
CREATE TABLE apple_enrollments (
    tenant_id          uuid NOT NULL DEFAULT current_tenant(),
    id                 text NOT NULL CHECK (id <> ''),
    device_id          text NOT NULL,
    user_id            text,
    type               text NOT NULL CHECK (type <> ''),
    topic              text NOT NULL CHECK (topic <> ''),
    push_magic         text NOT NULL CHECK (push_magic <> ''),
    token_hex          text NOT NULL CHECK (token_hex <> ''),
    enabled            boolean NOT NULL DEFAULT true,
    token_update_tally int NOT NULL DEFAULT 1,
    last_seen_at       timestamptz NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, user_id),
    FOREIGN KEY (tenant_id, device_id) REFERENCES apple_devices (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES apple_users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX apple_enrollments_device ON apple_enrollments (tenant_id, device_id);

CREATE TABLE apple_commands (
    tenant_id    uuid NOT NULL DEFAULT current_tenant(),
    command_uuid text NOT NULL CHECK (command_uuid <> '' AND length(command_uuid) <= 127),
    request_type text NOT NULL CHECK (request_type <> ''),
    command      text NOT NULL CHECK (left(command, 5) = '<?xml'),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, command_uuid)
);

CREATE TABLE apple_command_results (
    tenant_id     uuid NOT NULL DEFAULT current_tenant(),
    id            text NOT NULL,
    command_uuid  text NOT NULL,
    status        text NOT NULL CHECK (status <> ''),
    result        text NOT NULL,
    not_now_at    timestamptz,
    not_now_tally int NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id, command_uuid),
    FOREIGN KEY (tenant_id, id) REFERENCES apple_enrollments (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, command_uuid) REFERENCES apple_commands (tenant_id, command_uuid) ON DELETE CASCADE
);

CREATE TABLE apple_enrollment_queue (
    tenant_id    uuid NOT NULL DEFAULT current_tenant(),
    id           text NOT NULL,
    command_uuid text NOT NULL,
    active       boolean NOT NULL DEFAULT true,
    priority     smallint NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id, command_uuid),
    FOREIGN KEY (tenant_id, id) REFERENCES apple_enrollments (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, command_uuid) REFERENCES apple_commands (tenant_id, command_uuid) ON DELETE CASCADE
);
CREATE INDEX apple_enrollment_queue_next ON apple_enrollment_queue (tenant_id, id, priority DESC, created_at) WHERE active;

-- The tenant's APNs push certificates, by topic. The key is sealed with
-- the configured encryption key.
CREATE TABLE apple_push_certs (
    tenant_id   uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    topic       text NOT NULL CHECK (topic <> ''),
    cert_pem    text NOT NULL CHECK (left(cert_pem, 27) = '-----BEGIN CERTIFICATE-----'),
    key_sealed  bytea NOT NULL,
    not_after   timestamptz NOT NULL,
    stale_token int NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, topic)
);

CREATE TABLE apple_cert_auth (
    tenant_id  uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    id         text NOT NULL CHECK (id <> ''),
    sha256     text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id, sha256)
);
CREATE INDEX apple_cert_auth_hash ON apple_cert_auth (tenant_id, sha256);

-- +goose StatementBegin
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['apple_devices', 'apple_users', 'apple_enrollments', 'apple_commands',
        'apple_command_results', 'apple_enrollment_queue', 'apple_push_certs', 'apple_cert_auth']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant())', t);
    END LOOP;
END $$;
-- +goose StatementEnd

-- +goose Down
DROP TABLE apple_cert_auth, apple_push_certs, apple_enrollment_queue, apple_command_results,
    apple_commands, apple_enrollments, apple_users, apple_devices;
