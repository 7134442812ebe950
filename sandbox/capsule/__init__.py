"""Local stand-in of Capsule CRM API v2 (/api/v2): see state.py for the parts."""
