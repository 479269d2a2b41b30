variable "name" {
  description = "Prefix of every resource's name, e.g. \"trident-prod\"."
  type        = string
  default     = "trident"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name))
    error_message = "name: 2 to 21 lowercase letters, digits and dashes, starting with a letter."
  }
}

variable "base_domain" {
  description = "The platform's domain (API and dashboard); each tenant is {slug}.{base_domain}. E.g. \"mdm.example.com\"."
  type        = string
}

variable "route53_zone_id" {
  description = "The Route 53 hosted zone that holds base_domain: records for it and *.base_domain, and the certificate's validation, are created there."
  type        = string
}

variable "custom_hostnames" {
  description = "Tenants' own hostnames (enterpriseenrollment.customer.com for Windows discovery) served by the load balancer. Their DNS is the customers': point each at alb_dns_name with a CNAME, and publish the validation records from custom_certificate_validation."
  type        = list(string)
  default     = []
}

variable "custom_certificate_validated" {
  description = "Set to true once the customers' DNS carries custom_certificate_validation's records: only then is the certificate for custom_hostnames attached to the listener."
  type        = bool
  default     = false
}

variable "image" {
  description = "Trident's container image (built from the repository's Dockerfile), with its tag or digest: e.g. \"123456789012.dkr.ecr.eu-west-1.amazonaws.com/trident:v1.4.0\"."
  type        = string
}

variable "vpc_cidr" {
  description = "Address range of the VPC; split into a public and a private subnet per availability zone."
  type        = string
  default     = "10.40.0.0/16"
}

variable "availability_zones" {
  description = "How many availability zones to spread over (2 or 3)."
  type        = number
  default     = 2

  validation {
    condition     = var.availability_zones >= 2 && var.availability_zones <= 3
    error_message = "availability_zones: 2 or 3."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all zones (cheaper) instead of one per zone (survives a zone's loss)."
  type        = bool
  default     = false
}

variable "db_engine_version" {
  description = "Aurora PostgreSQL version (PostgreSQL 15, as Trident is tested on)."
  type        = string
  default     = "15.8"
}

variable "db_instance_class" {
  description = "Instance class of the Aurora writer and readers."
  type        = string
  default     = "db.r6g.large"
}

variable "db_readers" {
  description = "Aurora readers behind the reader endpoint, which Trident's reader pool uses (lists, reports). 0: reads go to the writer."
  type        = number
  default     = 1
}

variable "db_backup_retention_days" {
  description = "Days of automated backups, which also bound point-in-time recovery."
  type        = number
  default     = 14
}

variable "serve_cpu" {
  description = "CPU units of a serve task (1024 = one vCPU)."
  type        = number
  default     = 1024
}

variable "serve_memory" {
  description = "Memory of a serve task, in MiB."
  type        = number
  default     = 2048
}

variable "serve_min" {
  description = "Fewest serve tasks (at least 2 to ride out a task's replacement)."
  type        = number
  default     = 2
}

variable "serve_max" {
  description = "Most serve tasks the autoscaler may run."
  type        = number
  default     = 10
}

variable "worker_cpu" {
  description = "CPU units of a worker task."
  type        = number
  default     = 512
}

variable "worker_memory" {
  description = "Memory of a worker task, in MiB."
  type        = number
  default     = 1024
}

variable "worker_min" {
  description = "Fewest worker tasks."
  type        = number
  default     = 1
}

variable "worker_max" {
  description = "Most worker tasks the autoscaler may run."
  type        = number
  default     = 4
}

variable "oidc_issuer" {
  description = "The identity provider people and integrators sign in with (Keycloak: https://keycloak.example.com/realms/trident)."
  type        = string
}

variable "oidc_audience" {
  description = "Audience API tokens must carry."
  type        = string
  default     = "trident-api"
}

variable "dashboard_client_id" {
  description = "The dashboard's confidential client at the identity provider (Keycloak realm: trident-dashboard; redirect URI https://{base_domain}/dashboard/callback). Empty: no dashboard."
  type        = string
  default     = ""
}

variable "dashboard_client_secret" {
  description = "The dashboard client's secret (kept in Secrets Manager)."
  type        = string
  default     = ""
  sensitive   = true
}

variable "windows_poll_interval" {
  description = "How often enrolled Windows devices start a management session (a Go duration)."
  type        = string
  default     = "15m"
}

variable "extra_environment" {
  description = "More TRIDENT_* settings for both processes (see the README's configuration table), e.g. { TRIDENT_ANDROID_PROJECT = \"my-project\" }."
  type        = map(string)
  default     = {}
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps the processes' and the database's logs."
  type        = number
  default     = 30
}

variable "alarm_email" {
  description = "Where alarms are mailed (the address must confirm SNS's subscription); empty: alarms go to the SNS topic only."
  type        = string
  default     = ""
}

variable "deletion_protection" {
  description = "Protect the database and the load balancer from deletion (turn off only to tear a test environment down)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
