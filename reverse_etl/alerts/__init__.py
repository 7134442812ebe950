"""Alerts: finding.py says what needs a person, delivery.py sends it to the rules file's channels."""
