"""Sensors: Capsule polling, spooled webhooks, alerts, and the one that names wrong settings."""
