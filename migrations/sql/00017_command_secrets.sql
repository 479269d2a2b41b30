-- Secrets in command payloads (passcodes, PINs, profiles, OMA-DM values)
-- are sealed at rest: payload keeps the command with them redacted, and
-- payload_sealed the whole payload, sealed with the server's encryption
-- key for the tenant and command (services/commands/secrets.go). Only the
-- device's hand-out opens it.

-- +goose Up
ALTER TABLE commands ADD COLUMN payload_sealed bytea;

-- +goose Down
ALTER TABLE commands DROP COLUMN payload_sealed;
