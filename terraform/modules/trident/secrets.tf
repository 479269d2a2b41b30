# Secrets Manager holds what the tasks must not see in plain sight: the
# database URLs (with the roles' passwords), the encryption key that seals
# tenants' CA keys and push certificates, and the identity provider's
# settings. ECS injects them as TRIDENT_* variables.

resource "random_password" "owner" {
  length  = 40
  special = false
}

resource "random_password" "app" {
  length  = 40
  special = false
}

# 32 random bytes, base64: TRIDENT_ENCRYPTION_KEY. Rotating it is a
# documented procedure (docs/operations.md): the old key moves to
# TRIDENT_ENCRYPTION_KEYS_PREVIOUS first.
resource "random_bytes" "encryption_key" {
  length = 32
}

locals {
  db_host   = aws_rds_cluster.main.endpoint
  db_reader = var.db_readers > 0 ? aws_rds_cluster.main.reader_endpoint : aws_rds_cluster.main.endpoint
  db_params = "sslmode=require"
  secrets = {
    database-url        = "postgres://trident_app:${random_password.app.result}@${local.db_host}:5432/trident?${local.db_params}"
    reader-database-url = "postgres://trident_app:${random_password.app.result}@${local.db_reader}:5432/trident?${local.db_params}"
    migrate-url         = "postgres://trident_owner:${random_password.owner.result}@${local.db_host}:5432/trident?${local.db_params}"
    owner-password      = random_password.owner.result
    app-password        = random_password.app.result
    encryption-key      = random_bytes.encryption_key.base64
    oidc-issuer         = var.oidc_issuer
  }
  # for_each needs keys that are not sensitive; the values (generated
  # passwords) are.
  secret_names = concat(["database-url", "reader-database-url", "migrate-url", "owner-password", "app-password", "encryption-key", "oidc-issuer"],
  var.dashboard_client_id == "" ? [] : ["dashboard-client-secret"])
  all_secrets = merge(local.secrets, var.dashboard_client_id == "" ? {} : { dashboard-client-secret = var.dashboard_client_secret })
}

resource "aws_secretsmanager_secret" "main" {
  for_each                = toset(local.secret_names)
  name                    = "${var.name}/${each.key}"
  recovery_window_in_days = var.deletion_protection ? 30 : 0
  tags                    = local.tags
}

resource "aws_secretsmanager_secret_version" "main" {
  for_each      = toset(local.secret_names)
  secret_id     = aws_secretsmanager_secret.main[each.key].id
  secret_string = local.all_secrets[each.key]
}
