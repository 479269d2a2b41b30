-- Counts the syncs asked for of a token (by the API, the dashboard, the
-- schedule or an upload). A sync run notes the count when it starts and
-- runs again if it grew meanwhile: River keeps one sync job per token
-- queued or running, so an ask made while a run is under way is merged
-- into that run, and without this the run would end without seeing what
-- changed in ABM after its last page (a "Sync now" silently lost until
-- the next schedule).

-- +goose Up
ALTER TABLE dep_tokens ADD COLUMN sync_requests bigint NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE dep_tokens DROP COLUMN sync_requests;
