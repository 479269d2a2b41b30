-- The transactional outbox: services write an event in the same transaction
-- as the change it describes. The trigger's NOTIFY is delivered at commit, so
-- listeners never hear of an event that was rolled back.

-- +goose Up
CREATE TABLE events (
    tenant_id  uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    id         bigint GENERATED ALWAYS AS IDENTITY,
    kind       text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_.]{0,99}$'),
    subject    text NOT NULL DEFAULT '' CHECK (length(subject) <= 200),
    payload    jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX events_tenant_created ON events (tenant_id, created_at);

ALTER TABLE events ENABLE ROW LEVEL SECURITY;
ALTER TABLE events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON events
    USING (tenant_id = current_tenant())
    WITH CHECK (tenant_id = current_tenant());

-- +goose StatementBegin
-- NOTIFY is not filtered by row-level security, so the payload carries ids
-- only ("<tenant uuid>:<event id>"); the bus reads the row in the tenant's
-- own transaction.
CREATE FUNCTION notify_event() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('trident_events', NEW.tenant_id::text || ':' || NEW.id::text);
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER events_notify AFTER INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION notify_event();

-- +goose Down
DROP TABLE events;
DROP FUNCTION notify_event();
