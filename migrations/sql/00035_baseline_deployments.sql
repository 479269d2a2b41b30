-- Baseline items that are commands to every device (issue 25: an Apple
-- profile, Windows settings): each device's commands for an item carry
-- created_by "baseline:<baseline>:<item>:<content>", and applying reads a
-- tenant's by that tag, so an index keeps just those.

-- +goose Up
CREATE INDEX commands_baseline ON commands (tenant_id, created_by, device_id, created_at)
    WHERE created_by LIKE 'baseline:%';

-- +goose Down
DROP INDEX commands_baseline;
