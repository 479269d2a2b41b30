# The load balancer: one HTTPS listener for the platform (base_domain),
# every tenant ({slug}.base_domain, a wildcard certificate) and tenants'
# own hostnames. Mutual TLS in passthrough mode asks clients for a
# certificate without checking it and hands it to Trident in
# X-Amzn-Mtls-Clientcert: Windows devices' enrollment certificates reach
# the tenant's CA that way (services/pki decides), while Apple devices,
# browsers and API clients, who send none, are served as before.

resource "aws_acm_certificate" "main" {
  domain_name               = var.base_domain
  subject_alternative_names = ["*.${var.base_domain}"]
  validation_method         = "DNS"
  tags                      = local.tags
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_route53_record" "validation" {
  for_each = {
    for o in aws_acm_certificate.main.domain_validation_options : o.domain_name => o
  }
  zone_id         = var.route53_zone_id
  name            = each.value.resource_record_name
  type            = each.value.resource_record_type
  records         = [each.value.resource_record_value]
  ttl             = 300
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "main" {
  certificate_arn         = aws_acm_certificate.main.arn
  validation_record_fqdns = [for r in aws_route53_record.validation : r.fqdn]
}

# Tenants' own hostnames: their DNS is not ours, so their certificate is
# validated by the records the customers publish (output
# custom_certificate_validation), and attached once custom_certificate_validated.
resource "aws_acm_certificate" "custom" {
  count                     = length(var.custom_hostnames) > 0 ? 1 : 0
  domain_name               = var.custom_hostnames[0]
  subject_alternative_names = slice(var.custom_hostnames, 1, length(var.custom_hostnames))
  validation_method         = "DNS"
  tags                      = local.tags
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_lb" "main" {
  name                       = var.name
  load_balancer_type         = "application"
  internal                   = false
  subnets                    = aws_subnet.public[*].id
  security_groups            = [aws_security_group.alb.id]
  drop_invalid_header_fields = true
  idle_timeout               = 120 # live event streams (SSE) stay open; they send keep-alives
  deletion_protection        = var.deletion_protection
  tags                       = local.tags
}

resource "aws_lb_target_group" "serve" {
  name                 = "${var.name}-serve"
  port                 = 8080
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = aws_vpc.main.id
  deregistration_delay = 35 # within serve's 30 s graceful shutdown, plus margin
  health_check {
    path                = "/readyz"
    matcher             = "200"
    interval            = 10
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
  tags = local.tags
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.main.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = aws_acm_certificate_validation.main.certificate_arn

  mutual_authentication {
    mode = "passthrough"
  }

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.serve.arn
  }
  tags = local.tags
}

resource "aws_lb_listener_certificate" "custom" {
  count           = length(var.custom_hostnames) > 0 && var.custom_certificate_validated ? 1 : 0
  listener_arn    = aws_lb_listener.https.arn
  certificate_arn = aws_acm_certificate.custom[0].arn
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.main.arn
  port              = 80
  protocol          = "HTTP"
  default_action {
    type = "redirect"
    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
  tags = local.tags
}

# DNS: the platform and every tenant.
resource "aws_route53_record" "alias" {
  for_each = toset([var.base_domain, "*.${var.base_domain}"])
  zone_id  = var.route53_zone_id
  name     = each.value
  type     = "A"
  alias {
    name                   = aws_lb.main.dns_name
    zone_id                = aws_lb.main.zone_id
    evaluate_target_health = true
  }
}

# /metrics answers on every hostname, like the health checks: not from the
# internet. Scrape it from inside the VPC (task address, port 8080/8081).
resource "aws_lb_listener_rule" "no_metrics" {
  listener_arn = aws_lb_listener.https.arn
  priority     = 1
  condition {
    path_pattern {
      values = ["/metrics", "/metrics/*"]
    }
  }
  action {
    type = "fixed-response"
    fixed_response {
      content_type = "text/plain"
      message_body = "not found"
      status_code  = "404"
    }
  }
  tags = local.tags
}
