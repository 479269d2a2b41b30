-- Distributes Trident's schema on Citus by tenant (docs/scale-out.md).
--
-- Run once on the Citus coordinator, as the owner role, on a database that
-- `trident migrate up` created (and before tenants' data grows: distributing
-- moves the rows). Every tenant table is distributed by tenant_id and
-- co-located with devices, so one tenant's transaction runs on one worker;
-- the directory is replicated to every worker as reference tables. River's
-- tables (schema river), goose's bookkeeping and dashboard_sessions (a
-- person's, not a tenant's) stay on the coordinator.
--
-- Each statement stands alone (Citus moves the rows of a table as it
-- distributes it); if the script stops, fix the cause and run the remaining
-- lines.
--
-- migrations/citus_test.go keeps this file in step with
-- the schema: every tenant table listed once, parents before the tables
-- whose foreign keys point at them, and every unique index including
-- tenant_id. A migration that adds a tenant table adds its line here.


-- Row-level security needs app.tenant_id on the workers: Trident's tenant
-- helper issues SET LOCAL, which Citus forwards with this setting
-- (set_config() it would not: citusdata/citus#2689).
DO $$ BEGIN
    EXECUTE format('ALTER DATABASE %I SET citus.propagate_set_commands = %L', current_database(), 'local');
END $$;

-- The directory: small, read by every tenant's queries.
SELECT create_reference_table('msps');
SELECT create_reference_table('tenants');
-- A hostname belongs to one tenant across all tenants: its unique index
-- does not include tenant_id, so it cannot be distributed.
SELECT create_reference_table('tenant_hostnames');

-- Tenant tables, parents first.
SELECT create_distributed_table('devices', 'tenant_id', colocate_with => 'none');
SELECT create_distributed_table('device_groups', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('android_policies', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('android_enrollment_tokens', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('android_enterprises', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('android_notifications', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('commands', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('android_operations', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('apple_cert_auth', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('apple_commands', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('apple_devices', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('apple_users', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('apple_enrollments', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('apple_command_results', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('apple_enrollment_queue', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('apple_push_certs', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('apple_push_requests', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('audit_log', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('compliance_rules', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('compliance_history', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('compliance_results', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('dep_profiles', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('dep_tokens', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('dep_devices', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('dep_profile_definitions', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('device_group_members', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('events', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('idempotency_keys', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('tenant_cas', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('issued_certificates', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('scep_challenges', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('webhook_endpoints', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('webhook_deliveries', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('windows_enrollments', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('windows_chunks', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('windows_federation', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('fleet_history', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('saved_views', 'tenant_id', colocate_with => 'devices');

SELECT create_distributed_table('tenant_rollups', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('tenant_tags', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('msp_operation_tenants', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('baseline_overrides', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('access_settings', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('access_grants', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('device_enrollments', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('usage_days', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('device_limits', 'tenant_id', colocate_with => 'devices');
SELECT create_distributed_table('tenant_branding', 'tenant_id', colocate_with => 'devices');
