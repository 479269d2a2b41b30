-- Which device a certificate is the identity of, so that revoking a
-- device (an admin's revocation, an unenrollment, a wipe) revokes its
-- certificates at every endpoint: services/pki.Verify refuses a revoked
-- certificate for Apple check-ins, Windows sessions and renewals alike.
-- Set when the certificate first authenticates as a device (Windows:
-- at enrollment; Apple: at Authenticate); a renewal inherits it.

-- +goose Up
ALTER TABLE issued_certificates ADD COLUMN device_id uuid;
CREATE INDEX issued_certificates_device ON issued_certificates (tenant_id, device_id) WHERE device_id IS NOT NULL;

-- +goose Down
DROP INDEX issued_certificates_device;
ALTER TABLE issued_certificates DROP COLUMN device_id;
