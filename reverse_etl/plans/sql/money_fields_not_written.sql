-- How many of the Capsule fields money.capsule_fields turns on the tool cannot write to every linked
-- party (missing in Capsule, of the wrong type, or limited to one kind of party:
-- transform/sql/reconcile/capsule_money_definitions.sql); a plan says so (reverse_etl/plans/render.py).
-- No parameters.
select count(*) as fields
from reconcile.capsule_money_definitions
where state <> 'ok'
