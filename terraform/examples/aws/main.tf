# An example root module: Trident in one AWS region. Copy it, set the
# variables (terraform.tfvars), and keep the state in a remote backend.

terraform {
  required_version = ">= 1.5.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.30, < 7.0"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.5"
    }
  }
  # backend "s3" {
  #   bucket = "my-terraform-state"
  #   key    = "trident/prod.tfstate"
  #   region = "eu-west-1"
  # }
}

provider "aws" {
  region = var.region
  default_tags {
    tags = { Environment = var.environment }
  }
}

module "trident" {
  source = "../../modules/trident"

  name                         = "trident-${var.environment}"
  base_domain                  = var.base_domain
  route53_zone_id              = var.route53_zone_id
  image                        = var.image
  oidc_issuer                  = var.oidc_issuer
  custom_hostnames             = var.custom_hostnames
  custom_certificate_validated = var.custom_certificate_validated
  alarm_email                  = var.alarm_email
  dashboard_client_id          = var.dashboard_client_id
  dashboard_client_secret      = var.dashboard_client_secret
  extra_environment            = var.extra_environment
}

variable "region" {
  description = "The AWS region to run in."
  type        = string
  default     = "eu-west-1"
}

variable "environment" {
  description = "A short name for this deployment (prod, staging); part of every resource's name."
  type        = string
  default     = "prod"
}

variable "base_domain" {
  description = "The platform's domain; tenants are {slug}.{base_domain}."
  type        = string
}

variable "route53_zone_id" {
  description = "The hosted zone of base_domain."
  type        = string
}

variable "image" {
  description = "Trident's image, e.g. an ECR repository with a release tag."
  type        = string
}

variable "oidc_issuer" {
  description = "The identity provider's issuer URL (the Keycloak realm)."
  type        = string
}

variable "custom_hostnames" {
  description = "Tenants' own hostnames, e.g. enterpriseenrollment.customer.com."
  type        = list(string)
  default     = []
}

variable "custom_certificate_validated" {
  description = "True once the customers published the custom certificate's validation records."
  type        = bool
  default     = false
}

variable "alarm_email" {
  description = "Where alarms are mailed; empty for none."
  type        = string
  default     = ""
}

variable "dashboard_client_id" {
  description = "The dashboard's client id at the identity provider; empty for no dashboard."
  type        = string
  default     = "trident-dashboard"
}

variable "dashboard_client_secret" {
  description = "The dashboard client's secret."
  type        = string
  default     = ""
  sensitive   = true
}

variable "extra_environment" {
  description = "More TRIDENT_* settings (Android, ABM, Apple vendor certificate paths...)."
  type        = map(string)
  default     = {}
}

output "platform_url" {
  description = "The API and dashboard."
  value       = module.trident.platform_url
}

output "tenant_url_pattern" {
  description = "Each tenant's device endpoints."
  value       = module.trident.tenant_url_pattern
}

output "alb_dns_name" {
  description = "CNAME target for custom hostnames."
  value       = module.trident.alb_dns_name
}

output "custom_certificate_validation" {
  description = "Records customers publish for their hostnames' certificate."
  value       = module.trident.custom_certificate_validation
}

output "run_bootstrap" {
  description = "Run once after the first apply."
  value       = module.trident.run_bootstrap
}

output "run_migrations" {
  description = "Run before each upgrade."
  value       = module.trident.run_migrations
}

output "alarm_topic" {
  description = "SNS topic of the alarms."
  value       = module.trident.alarm_topic
}
