-- Rings (issue 25): a baseline's new version reaches its first ring of
-- tenants, then the next ones as it is promoted, and everyone else last
-- (released); a ring can be rolled back to the version before.

-- +goose Up
ALTER TABLE baselines ADD COLUMN rings jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN released integer NOT NULL DEFAULT 1 CHECK (released >= 1);

-- +goose Down
ALTER TABLE baselines DROP COLUMN released, DROP COLUMN rings;
