-- +goose Up
-- A tenant's command history, newest first, every device's (issue 24:
-- the dashboard's commands page, the API's list-commands).
CREATE INDEX commands_recent ON commands (tenant_id, created_at DESC, id DESC);

-- +goose Down
DROP INDEX commands_recent;
