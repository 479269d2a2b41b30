-- +goose Up
-- Compliance rules may be scoped to an Apple device family (issue 24):
-- macOS, iOS, iPadOS and tvOS differ in what they report and in what a
-- version number means.
ALTER TABLE compliance_rules DROP CONSTRAINT compliance_rules_platform_check,
    ADD CONSTRAINT compliance_rules_platform_check
    CHECK (platform IN ('apple', 'windows', 'android', 'macos', 'ios', 'ipados', 'tvos'));

-- +goose Down
DELETE FROM compliance_rules WHERE platform IN ('macos', 'ios', 'ipados', 'tvos');
ALTER TABLE compliance_rules DROP CONSTRAINT compliance_rules_platform_check,
    ADD CONSTRAINT compliance_rules_platform_check CHECK (platform IN ('apple', 'windows', 'android'));
