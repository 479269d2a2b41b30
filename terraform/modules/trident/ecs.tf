# ECS on Fargate: serve behind the load balancer, worker on its own, and
# two one-off tasks operators run (outputs.run_bootstrap, run_migrations).

data "aws_region" "current" {}

resource "aws_ecs_cluster" "main" {
  name = var.name
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
  tags = local.tags
}

resource "aws_cloudwatch_log_group" "main" {
  for_each          = toset(["serve", "worker", "migrate"])
  name              = "/${var.name}/${each.key}"
  retention_in_days = var.log_retention_days
  tags              = local.tags
}

data "aws_iam_policy_document" "ecs_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

# The execution role pulls the image, writes logs and reads the secrets the
# task definitions name; the tasks' own role needs no AWS API at all.
resource "aws_iam_role" "execution" {
  name               = "${var.name}-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

data "aws_iam_policy_document" "secrets" {
  statement {
    actions = ["secretsmanager:GetSecretValue"]
    resources = concat([for s in aws_secretsmanager_secret.main : s.arn],
    [aws_rds_cluster.main.master_user_secret[0].secret_arn])
  }
}

resource "aws_iam_role_policy" "execution_secrets" {
  name   = "secrets"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.secrets.json
}

resource "aws_iam_role" "task" {
  name               = "${var.name}-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_assume.json
  tags               = local.tags
}

locals {
  environment = merge({
    TRIDENT_BASE_DOMAIN   = var.base_domain
    TRIDENT_OIDC_AUDIENCE = var.oidc_audience
    TRIDENT_DEVICE_SCHEME = "https"
    TRIDENT_LOG_FORMAT    = "json"
    # Apple devices sign their messages (Mdm-Signature): no client
    # certificate needs to cross the load balancer.
    TRIDENT_APPLE_DEVICE_IDENTITY = "signature"
    # Windows devices authenticate with their certificate: the load
    # balancer's mutual TLS in passthrough mode hands it on in this header,
    # which the ALB sets itself (terraform/README.md: check after deploying
    # that a client's own header does not get through).
    TRIDENT_WINDOWS_DEVICE_IDENTITY = "header"
    TRIDENT_WINDOWS_IDENTITY_HEADER = "X-Amzn-Mtls-Clientcert"
    TRIDENT_WINDOWS_POLL_INTERVAL   = var.windows_poll_interval
  }, var.dashboard_client_id == "" ? {} : { TRIDENT_DASHBOARD_CLIENT_ID = var.dashboard_client_id }, var.extra_environment)

  app_secrets = merge({
    TRIDENT_DATABASE_URL        = aws_secretsmanager_secret.main["database-url"].arn
    TRIDENT_READER_DATABASE_URL = aws_secretsmanager_secret.main["reader-database-url"].arn
    TRIDENT_ENCRYPTION_KEY      = aws_secretsmanager_secret.main["encryption-key"].arn
    TRIDENT_OIDC_ISSUER         = aws_secretsmanager_secret.main["oidc-issuer"].arn
    }, var.dashboard_client_id == "" ? {} : {
    TRIDENT_DASHBOARD_CLIENT_SECRET = aws_secretsmanager_secret.main["dashboard-client-secret"].arn
  })

  containers = {
    serve = {
      command     = ["serve"], port = 8080, log = "serve"
      environment = merge(local.environment, { TRIDENT_LISTEN = ":8080" })
      secrets     = local.app_secrets
    }
    worker = {
      command     = ["worker"], port = 8081, log = "worker"
      environment = merge(local.environment, { TRIDENT_LISTEN = ":8081" })
      secrets     = local.app_secrets
    }
    migrate = {
      command     = ["migrate", "up"], port = 0, log = "migrate"
      environment = { TRIDENT_LOG_FORMAT = "json" }
      secrets     = { TRIDENT_MIGRATE_DATABASE_URL = aws_secretsmanager_secret.main["migrate-url"].arn }
    }
    bootstrap = {
      command = ["migrate", "bootstrap"], port = 0, log = "migrate"
      environment = {
        TRIDENT_LOG_FORMAT = "json"
        # The master user's password comes in PGPASSWORD (pgx reads it).
        TRIDENT_ADMIN_DATABASE_URL = "postgres://${aws_rds_cluster.main.master_username}@${aws_rds_cluster.main.endpoint}:5432/postgres?sslmode=require"
      }
      secrets = {
        PGPASSWORD             = "${aws_rds_cluster.main.master_user_secret[0].secret_arn}:password::"
        TRIDENT_OWNER_PASSWORD = aws_secretsmanager_secret.main["owner-password"].arn
        TRIDENT_APP_PASSWORD   = aws_secretsmanager_secret.main["app-password"].arn
      }
    }
  }
}

resource "aws_ecs_task_definition" "main" {
  for_each                 = local.containers
  family                   = "${var.name}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.key == "serve" ? var.serve_cpu : (each.key == "worker" ? var.worker_cpu : 256)
  memory                   = each.key == "serve" ? var.serve_memory : (each.key == "worker" ? var.worker_memory : 512)
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn
  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }
  container_definitions = jsonencode([{
    name                   = each.key
    image                  = var.image
    command                = each.value.command
    essential              = true
    readonlyRootFilesystem = true
    user                   = "65532:65532"
    stopTimeout            = 45
    portMappings           = each.value.port > 0 ? [{ containerPort = each.value.port, protocol = "tcp" }] : []
    environment            = [for k, v in each.value.environment : { name = k, value = v }]
    secrets                = [for k, v in each.value.secrets : { name = k, valueFrom = v }]
    healthCheck = each.value.port > 0 ? {
      command     = ["CMD", "/trident", "probe", "http://127.0.0.1:${each.value.port}/readyz"]
      interval    = 15
      timeout     = 5
      retries     = 3
      startPeriod = 30
    } : null
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.main[each.value.log].name
        awslogs-region        = data.aws_region.current.name
        awslogs-stream-prefix = each.key
      }
    }
  }])
  tags = local.tags
}

resource "aws_ecs_service" "serve" {
  name                               = "serve"
  cluster                            = aws_ecs_cluster.main.id
  task_definition                    = aws_ecs_task_definition.main["serve"].arn
  desired_count                      = var.serve_min
  launch_type                        = "FARGATE"
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = 60
  enable_execute_command             = false
  propagate_tags                     = "SERVICE"

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = aws_subnet.private[*].id
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.serve.arn
    container_name   = "serve"
    container_port   = 8080
  }

  lifecycle {
    ignore_changes = [desired_count] # the autoscaler owns it
  }
  depends_on = [aws_lb_listener.https]
  tags       = local.tags
}

resource "aws_ecs_service" "worker" {
  name                               = "worker"
  cluster                            = aws_ecs_cluster.main.id
  task_definition                    = aws_ecs_task_definition.main["worker"].arn
  desired_count                      = var.worker_min
  launch_type                        = "FARGATE"
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  propagate_tags                     = "SERVICE"

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = aws_subnet.private[*].id
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }

  lifecycle {
    ignore_changes = [desired_count]
  }
  tags = local.tags
}

# Autoscaling: serve on CPU and on requests per task; worker on CPU (River
# spreads jobs over however many workers run, one of them leading the
# periodic jobs).
resource "aws_appautoscaling_target" "main" {
  for_each           = { serve = [var.serve_min, var.serve_max], worker = [var.worker_min, var.worker_max] }
  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = "service/${aws_ecs_cluster.main.name}/${each.key}"
  min_capacity       = each.value[0]
  max_capacity       = each.value[1]
  depends_on         = [aws_ecs_service.serve, aws_ecs_service.worker]
}

resource "aws_appautoscaling_policy" "cpu" {
  for_each           = aws_appautoscaling_target.main
  name               = "${var.name}-${each.key}-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = each.value.service_namespace
  scalable_dimension = each.value.scalable_dimension
  resource_id        = each.value.resource_id
  target_tracking_scaling_policy_configuration {
    target_value       = 60
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

resource "aws_appautoscaling_policy" "serve_requests" {
  name               = "${var.name}-serve-requests"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.main["serve"].service_namespace
  scalable_dimension = aws_appautoscaling_target.main["serve"].scalable_dimension
  resource_id        = aws_appautoscaling_target.main["serve"].resource_id
  target_tracking_scaling_policy_configuration {
    target_value       = 3000 # requests per task per minute
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
    predefined_metric_specification {
      predefined_metric_type = "ALBRequestCountPerTarget"
      resource_label         = "${aws_lb.main.arn_suffix}/${aws_lb_target_group.serve.arn_suffix}"
    }
  }
}
