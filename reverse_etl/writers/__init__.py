"""Writers: what goes over the wire to Xero (xero.py and its parts) and the contact JSON (payloads.py)."""
