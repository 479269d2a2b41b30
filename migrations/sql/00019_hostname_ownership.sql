-- A custom hostname routes devices only once its tenant has proved it
-- controls the name's DNS: a TXT record at _trident-challenge.<name>
-- holding the per-name challenge token (tenancy/ownership.go). Until then
-- the name is pending, and several tenants may claim the same pending
-- name; the first to prove it keeps it. Names registered before this
-- migration become pending too: an outside security test registered
-- 127.0.0.1 and other tenants' names, and nothing proved any of them.
-- (docs/operations.md says how an operator re-verifies them on upgrade.)

-- +goose Up
ALTER TABLE tenant_hostnames
    ADD COLUMN challenge   text NOT NULL DEFAULT replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '')
        CHECK (challenge ~ '^[a-z0-9]{32,64}$'),
    ADD COLUMN verified_at timestamptz,
    ADD COLUMN checked_at  timestamptz,
    ADD COLUMN check_error text CHECK (length(check_error) <= 500);
ALTER TABLE tenant_hostnames ALTER COLUMN challenge DROP DEFAULT;

-- One tenant at most holds a verified name; pending claims may overlap.
DROP INDEX tenant_hostnames_hostname;
CREATE UNIQUE INDEX tenant_hostnames_verified ON tenant_hostnames (hostname) WHERE verified_at IS NOT NULL;
CREATE INDEX tenant_hostnames_hostname ON tenant_hostnames (hostname);

-- Host resolution (and the check that a new name is not under another
-- tenant's) may read the verified rows of the names listed, comma
-- separated, in app.resolve_host, and nothing else. Which tenant serves a
-- verified name is public knowledge: it is in DNS.
DROP POLICY resolve_host ON tenant_hostnames;
CREATE POLICY resolve_host ON tenant_hostnames FOR SELECT
    USING (verified_at IS NOT NULL
       AND hostname = ANY (string_to_array(NULLIF(current_setting('app.resolve_host', true), ''), ',')));

-- +goose Down
DROP POLICY resolve_host ON tenant_hostnames;
CREATE POLICY resolve_host ON tenant_hostnames FOR SELECT
    USING (hostname = NULLIF(current_setting('app.resolve_host', true), ''));
DROP INDEX tenant_hostnames_verified;
DROP INDEX tenant_hostnames_hostname;
DELETE FROM tenant_hostnames a USING tenant_hostnames b
    WHERE a.hostname = b.hostname AND a.tenant_id <> b.tenant_id AND a.verified_at IS NULL;
CREATE UNIQUE INDEX tenant_hostnames_hostname ON tenant_hostnames (hostname);
ALTER TABLE tenant_hostnames DROP COLUMN challenge, DROP COLUMN verified_at, DROP COLUMN checked_at, DROP COLUMN check_error;
