"""Delivery: the digest (its content, chart, bodies and e-mail message), templates, SMTP sending."""
