"""Delivery: the digest e-mail, its templates and the SMTP sender."""
