"""Applying a plan to Xero exactly once: loop.py runs the stages (outbox.py: the outbox and recovery by
lookup; contacts.py; groups.py; notes.py; write_back.py), recording.py, written.py and error_queue.py
record what happened; their SQL is in ``apply/sql/``."""
