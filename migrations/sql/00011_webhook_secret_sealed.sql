-- Webhook signing secrets are sealed with the configured encryption key,
-- like the other secrets at rest. Endpoints made before keep their
-- plaintext secret until they are recreated.

-- +goose Up
ALTER TABLE webhook_endpoints ADD COLUMN secret_sealed bytea;
ALTER TABLE webhook_endpoints ALTER COLUMN secret DROP NOT NULL;
ALTER TABLE webhook_endpoints ADD CONSTRAINT webhook_endpoints_secret CHECK (secret IS NOT NULL OR secret_sealed IS NOT NULL);

-- +goose Down
ALTER TABLE webhook_endpoints DROP CONSTRAINT webhook_endpoints_secret;
UPDATE webhook_endpoints SET secret = '' WHERE secret IS NULL;
ALTER TABLE webhook_endpoints ALTER COLUMN secret SET NOT NULL;
ALTER TABLE webhook_endpoints DROP COLUMN secret_sealed;
