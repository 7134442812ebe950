"""capsule-xero: a self-hosted Capsule CRM -> Xero contact sync."""

__version__ = "0.1.0"
