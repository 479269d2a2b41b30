-- A device's last address (issue 25: cross-tenant search finds a device
-- by IP): the address its last check-in came from, through the trusted
-- proxies (--trusted-proxies). Written when it changes, not on every
-- check-in; NULL for devices that never reach Trident themselves
-- (Android's reports come through Google).

-- +goose Up
ALTER TABLE devices ADD COLUMN last_ip inet;

-- +goose Down
ALTER TABLE devices DROP COLUMN last_ip;
