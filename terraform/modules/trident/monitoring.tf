# Alarms to an SNS topic (and a mailbox): the load balancer's errors and
# latency, the tasks' health and resources, the database's, and errors in
# the logs.

resource "aws_sns_topic" "alarms" {
  name = "${var.name}-alarms"
  tags = local.tags
}

resource "aws_sns_topic_subscription" "email" {
  count     = var.alarm_email == "" ? 0 : 1
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

locals {
  alb_dims = { LoadBalancer = aws_lb.main.arn_suffix }
  tg_dims  = { LoadBalancer = aws_lb.main.arn_suffix, TargetGroup = aws_lb_target_group.serve.arn_suffix }
  db_dims  = { DBClusterIdentifier = aws_rds_cluster.main.cluster_identifier }
  alarms = {
    "http-5xx" = {
      description = "Trident answered 5xx to more than 1% of requests for 5 minutes", namespace = "AWS/ApplicationELB",
      metric      = "HTTPCode_Target_5XX_Count", stat = "Sum", threshold = 50, period = 300, dims = local.alb_dims
    }
    "latency-p99" = {
      description = "p99 response time above 1 s for 10 minutes", namespace = "AWS/ApplicationELB",
      metric      = "TargetResponseTime", stat = "p99", threshold = 1, period = 600, dims = local.tg_dims
    }
    "unhealthy-serve" = {
      description = "a serve task fails its readiness check", namespace = "AWS/ApplicationELB",
      metric      = "UnHealthyHostCount", stat = "Maximum", threshold = 0, period = 120, dims = local.tg_dims
    }
    "serve-memory" = {
      description = "serve tasks above 85% of their memory", namespace = "AWS/ECS",
      metric      = "MemoryUtilization", stat = "Average", threshold = 85, period = 300,
      dims        = { ClusterName = aws_ecs_cluster.main.name, ServiceName = "serve" }
    }
    "worker-memory" = {
      description = "worker tasks above 85% of their memory", namespace = "AWS/ECS",
      metric      = "MemoryUtilization", stat = "Average", threshold = 85, period = 300,
      dims        = { ClusterName = aws_ecs_cluster.main.name, ServiceName = "worker" }
    }
    "db-cpu" = {
      description = "the database's CPU above 80% for 10 minutes", namespace = "AWS/RDS",
      metric      = "CPUUtilization", stat = "Average", threshold = 80, period = 600, dims = local.db_dims
    }
    "db-replica-lag" = {
      description = "readers more than 2 s behind the writer (the reader pool serves stale lists)", namespace = "AWS/RDS",
      metric      = "AuroraReplicaLagMaximum", stat = "Maximum", threshold = 2000, period = 300, dims = local.db_dims
    }
    "db-connections" = {
      description = "more than 800 database connections", namespace = "AWS/RDS",
      metric      = "DatabaseConnections", stat = "Maximum", threshold = 800, period = 300, dims = local.db_dims
    }
    "log-errors" = {
      description = "serve or worker logged errors for 10 minutes", namespace = "Trident/${var.name}",
      metric      = "LoggedErrors", stat = "Sum", threshold = 20, period = 600, dims = {}
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "main" {
  for_each            = local.alarms
  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  statistic           = contains(["Sum", "Average", "Maximum", "Minimum", "SampleCount"], each.value.stat) ? each.value.stat : null
  extended_statistic  = contains(["Sum", "Average", "Maximum", "Minimum", "SampleCount"], each.value.stat) ? null : each.value.stat
  dimensions          = each.value.dims
  period              = each.value.period
  evaluation_periods  = 1
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = local.tags
}

# Trident logs JSON (TRIDENT_LOG_FORMAT=json): count its errors.
resource "aws_cloudwatch_log_metric_filter" "errors" {
  for_each       = toset(["serve", "worker"])
  name           = "${var.name}-${each.key}-errors"
  log_group_name = aws_cloudwatch_log_group.main[each.key].name
  pattern        = "{ $.level = \"ERROR\" }"
  metric_transformation {
    name      = "LoggedErrors"
    namespace = "Trident/${var.name}"
    value     = "1"
  }
}
