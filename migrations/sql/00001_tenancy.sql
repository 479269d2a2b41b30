-- The platform directory (MSPs, tenants) and the first tenant table
-- (custom hostnames). The owner role runs this; the app role gets its
-- privileges from migrations.Up, by name, after every migration run.

-- +goose Up
-- +goose StatementBegin
-- current_tenant() is the one reading of app.tenant_id that policies use.
-- After a transaction ends on a pooled connection the setting reads as '' (not
-- NULL), so '' must mean "no tenant": NULLIF turns it into NULL, and NULL
-- matches no row.
CREATE FUNCTION current_tenant() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $$;
-- +goose StatementEnd

CREATE TABLE msps (
    id         uuid PRIMARY KEY,
    slug       text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$'),
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- tenants is the platform directory: it names tenants and is read to route
-- requests, so it is not itself tenant-scoped (no tenant_id column).
CREATE TABLE tenants (
    id         uuid PRIMARY KEY,
    msp_id     uuid NOT NULL REFERENCES msps (id),
    slug       text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$'),
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    status     text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tenants_msp_id ON tenants (msp_id);

-- Custom hostnames registered to a tenant (for example
-- enterpriseenrollment.customer.example for Windows discovery). The
-- {slug}.{base domain} name is implied by the tenant's slug and not stored.
CREATE TABLE tenant_hostnames (
    tenant_id  uuid NOT NULL DEFAULT current_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    hostname   text NOT NULL CHECK (hostname = lower(hostname) AND length(hostname) BETWEEN 1 AND 253),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, hostname)
);
-- A hostname belongs to one tenant at most. (On Citus this becomes a lookup
-- the directory enforces; see docs/scale-out.md.)
CREATE UNIQUE INDEX tenant_hostnames_hostname ON tenant_hostnames (hostname);

ALTER TABLE tenant_hostnames ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_hostnames FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_hostnames
    USING (tenant_id = current_tenant())
    WITH CHECK (tenant_id = current_tenant());
-- Host resolution happens before a tenant is known: a transaction that sets
-- app.resolve_host may read the one row for that hostname, and nothing else.
-- Which tenant serves a hostname is public knowledge (it is in DNS).
CREATE POLICY resolve_host ON tenant_hostnames FOR SELECT
    USING (hostname = NULLIF(current_setting('app.resolve_host', true), ''));

-- +goose StatementBegin
-- Tell every process that routing changed, so Host caches drop the name.
-- NOTIFY is sent at commit, and only if the transaction commits.
CREATE FUNCTION notify_tenancy_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('trident_tenancy', '');
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER tenant_hostnames_changed AFTER INSERT OR UPDATE OR DELETE ON tenant_hostnames
    FOR EACH STATEMENT EXECUTE FUNCTION notify_tenancy_changed();
CREATE TRIGGER tenants_changed AFTER UPDATE OR DELETE ON tenants
    FOR EACH STATEMENT EXECUTE FUNCTION notify_tenancy_changed();

-- +goose Down
DROP TABLE tenant_hostnames;
DROP TABLE tenants;
DROP TABLE msps;
DROP FUNCTION notify_tenancy_changed();
DROP FUNCTION current_tenant();
