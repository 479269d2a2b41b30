output "platform_url" {
  description = "The API and dashboard."
  value       = "https://${var.base_domain}"
}

output "tenant_url_pattern" {
  description = "Where each tenant's devices enroll: {slug} is the tenant's."
  value       = "https://{slug}.${var.base_domain}"
}

output "alb_dns_name" {
  description = "The load balancer's name: customers point their custom hostnames (enterpriseenrollment.customer.com) at it with a CNAME."
  value       = aws_lb.main.dns_name
}

output "custom_certificate_validation" {
  description = "DNS records the customers publish so that the certificate for custom_hostnames is issued; then set custom_certificate_validated."
  value = length(var.custom_hostnames) == 0 ? [] : [
    for o in aws_acm_certificate.custom[0].domain_validation_options : {
      hostname = o.domain_name, name = o.resource_record_name, type = o.resource_record_type, value = o.resource_record_value
    }
  ]
}

output "database_writer_endpoint" {
  description = "Aurora's cluster (writer) endpoint."
  value       = aws_rds_cluster.main.endpoint
}

output "database_reader_endpoint" {
  description = "Aurora's reader endpoint, behind Trident's reader pool."
  value       = aws_rds_cluster.main.reader_endpoint
}

output "ecs_cluster" {
  description = "The ECS cluster of serve and worker."
  value       = aws_ecs_cluster.main.name
}

output "secrets" {
  description = "Secrets Manager ARNs, by name (database URLs, roles' passwords, encryption key, OIDC issuer)."
  value       = { for k, s in aws_secretsmanager_secret.main : k => s.arn }
}

output "alarm_topic" {
  description = "The SNS topic alarms go to: subscribe pagers or chat to it."
  value       = aws_sns_topic.alarms.arn
}

locals {
  run_task = "aws ecs run-task --cluster ${aws_ecs_cluster.main.name} --launch-type FARGATE --network-configuration 'awsvpcConfiguration={subnets=[${join(",", aws_subnet.private[*].id)}],securityGroups=[${aws_security_group.tasks.id}]}' --task-definition"
}

output "run_bootstrap" {
  description = "Run once after the first apply: creates Trident's owner and app roles and its database (trident migrate bootstrap, as the master user)."
  value       = "${local.run_task} ${aws_ecs_task_definition.main["bootstrap"].family}"
}

output "run_migrations" {
  description = "Run after bootstrap and before each upgrade's new image serves: trident migrate up, as the owner role."
  value       = "${local.run_task} ${aws_ecs_task_definition.main["migrate"].family}"
}
