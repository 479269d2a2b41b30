-- An MSP may require multi-factor sign-in of its people (issue 26): its
-- admins and technicians are refused, with the reason, unless their
-- identity provider says a second factor was used (amr/acr claims).

-- +goose Up
ALTER TABLE msps ADD COLUMN require_mfa boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE msps DROP COLUMN require_mfa;
