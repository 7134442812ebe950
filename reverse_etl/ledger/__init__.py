"""The ledger: every ``ledger.*`` table, one ``.sql`` file each in ``ledger/sql/`` (schema.py creates them)."""
