"""Local stand-in of Xero: Accounting API (/api.xro/2.0), identity (/connect/...), /connections."""
