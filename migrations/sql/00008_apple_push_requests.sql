-- Keys of push certificate requests a tenant made, waiting for Apple's
-- certificate: uploading the certificate alone finds its key here.

-- +goose Up
CREATE TABLE apple_push_requests (
    tenant_id  uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    id         uuid NOT NULL,
    public_key bytea NOT NULL,       -- PKIX DER, to match the certificate Apple issues
    key_sealed bytea NOT NULL,       -- PEM, sealed with the configured encryption key
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);

ALTER TABLE apple_push_requests ENABLE ROW LEVEL SECURITY;
ALTER TABLE apple_push_requests FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON apple_push_requests
    USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());

-- +goose Down
DROP TABLE apple_push_requests;
