"""The rules file (``capsule-xero.yaml``): what syncs, how fields are shaped, and who wins a conflict."""
