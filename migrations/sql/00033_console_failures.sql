-- The MSP console's needs-attention queue (issue 25) shows Google's quota
-- answers and failed bulk commands: when the Android Management API last
-- refused a tenant's call for quota, and an index of the commands that
-- ended in error (few), so counting a tenant's recent ones reads only them.

-- +goose Up
ALTER TABLE android_enterprises ADD COLUMN quota_at timestamptz;
CREATE INDEX commands_errors ON commands (tenant_id, created_at) WHERE status = 'error';

-- +goose Down
DROP INDEX commands_errors;
ALTER TABLE android_enterprises DROP COLUMN quota_at;
