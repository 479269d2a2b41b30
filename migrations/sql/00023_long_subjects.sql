-- OIDC allows subjects of up to 255 characters; the audit log and the
-- event log kept 200, so every change by such a caller (or a federated
-- Windows sign-in of such a person) failed with an internal error. Old
-- rows fit already: the new checks are added NOT VALID and validated
-- without blocking writes.

-- +goose Up
ALTER TABLE audit_log DROP CONSTRAINT audit_log_actor_check,
    ADD CONSTRAINT audit_log_actor_check CHECK (length(actor) BETWEEN 1 AND 255) NOT VALID;
ALTER TABLE audit_log VALIDATE CONSTRAINT audit_log_actor_check;
ALTER TABLE events DROP CONSTRAINT events_subject_check,
    ADD CONSTRAINT events_subject_check CHECK (length(subject) <= 255) NOT VALID;
ALTER TABLE events VALIDATE CONSTRAINT events_subject_check;

-- +goose Down
ALTER TABLE audit_log DROP CONSTRAINT audit_log_actor_check,
    ADD CONSTRAINT audit_log_actor_check CHECK (length(actor) BETWEEN 1 AND 200) NOT VALID;
ALTER TABLE events DROP CONSTRAINT events_subject_check,
    ADD CONSTRAINT events_subject_check CHECK (length(subject) <= 200) NOT VALID;
