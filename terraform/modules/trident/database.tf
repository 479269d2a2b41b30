# Aurora PostgreSQL: a writer and readers. Trident's writer pool uses the
# cluster endpoint, its reader pool the reader endpoint. The master user's
# password is managed by RDS in Secrets Manager and used only by the
# bootstrap task (trident migrate bootstrap), which creates Trident's owner
# and app roles; serve and worker connect as the app role, to which
# row-level security always applies.

resource "aws_db_subnet_group" "main" {
  name       = var.name
  subnet_ids = aws_subnet.private[*].id
  tags       = local.tags
}

resource "aws_rds_cluster_parameter_group" "main" {
  name   = "${var.name}-aurora-pg15"
  family = "aurora-postgresql15"
  tags   = local.tags

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }
  parameter {
    name  = "log_min_duration_statement"
    value = "500"
  }
  parameter {
    name  = "idle_in_transaction_session_timeout"
    value = "60000"
  }
}

resource "aws_rds_cluster" "main" {
  cluster_identifier              = var.name
  engine                          = "aurora-postgresql"
  engine_version                  = var.db_engine_version
  database_name                   = "postgres"
  master_username                 = "trident_admin"
  manage_master_user_password     = true
  db_subnet_group_name            = aws_db_subnet_group.main.name
  vpc_security_group_ids          = [aws_security_group.db.id]
  db_cluster_parameter_group_name = aws_rds_cluster_parameter_group.main.name
  storage_encrypted               = true
  backup_retention_period         = var.db_backup_retention_days
  preferred_backup_window         = "02:00-03:00"
  preferred_maintenance_window    = "sun:03:30-sun:04:30"
  copy_tags_to_snapshot           = true
  deletion_protection             = var.deletion_protection
  skip_final_snapshot             = !var.deletion_protection
  final_snapshot_identifier       = var.deletion_protection ? "${var.name}-final" : null
  enabled_cloudwatch_logs_exports = ["postgresql"]
  tags                            = local.tags
}

resource "aws_rds_cluster_instance" "main" {
  count                        = 1 + var.db_readers
  identifier                   = "${var.name}-${count.index}"
  cluster_identifier           = aws_rds_cluster.main.id
  engine                       = aws_rds_cluster.main.engine
  engine_version               = aws_rds_cluster.main.engine_version
  instance_class               = var.db_instance_class
  db_subnet_group_name         = aws_db_subnet_group.main.name
  performance_insights_enabled = true
  auto_minor_version_upgrade   = true
  tags                         = local.tags
}
