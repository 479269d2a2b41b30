-- A device's user (issue 24: the device list's user column; issue 25:
-- finding a device by its user). A challenge may be given to someone (a
-- Windows federated sign-in's email): the device enrolled with it is
-- theirs. The user itself is a device fact ("user"), as the platforms
-- report it.

-- +goose Up
ALTER TABLE scep_challenges ADD COLUMN holder text NOT NULL DEFAULT '' CHECK (length(holder) <= 320);

-- +goose Down
ALTER TABLE scep_challenges DROP COLUMN holder;
