-- Every field difference the conflict policy settled (docs/mapping.md#conflict-policies: every
-- settlement is logged): changed in Xero only, changed on both sides, or different with no record of a
-- write by this tool (first migration, adopted hand-made contacts). Both timestamps are kept so a
-- person can see why newest_wins chose as it did.
-- Parameters: $conflict_policy.
select
    party_id,
    contact_id,
    field,
    change as conflict,
    desired_value as capsule_value,
    current_value as xero_value,
    base_value,
    capsule_updated_at,
    xero_updated_at,
    $conflict_policy as policy,
    winner,
    decision,
    reason
from reconcile.contact_diffs
where settled_by_policy
