"""Local stand-in of Capsule CRM API v2 (/api/v2)."""
