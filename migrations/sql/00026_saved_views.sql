-- A person's saved device-list views (issue 24: saved filters): a name
-- and the list's query (its filters and sort, as the dashboard's URL has
-- them), per tenant and per person (the OIDC subject).

-- +goose Up
CREATE TABLE saved_views (
    tenant_id  uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    id         uuid NOT NULL,
    owner      text NOT NULL CHECK (length(owner) BETWEEN 1 AND 255),
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    query      text NOT NULL CHECK (length(query) <= 2000),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, owner, name)
);

ALTER TABLE saved_views ENABLE ROW LEVEL SECURITY;
ALTER TABLE saved_views FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON saved_views USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());

-- +goose Down
DROP TABLE saved_views;
