"""Plans: what a sync will write to Xero, stored and numbered, approved before anything is sent.

model.py (the plan, its operations and notes), create.py (making one), approval.py, staleness.py,
store.py (reading plans and recording their status), write_backs.py (the ContactIDs Capsule should
hold), render.py (a plan as people and scripts read it); their SQL is in ``plans/sql/``.
"""
