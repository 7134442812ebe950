-- Everything a two-way sync writes to Capsule, one row per write (README.md "Two-way contacts"): the
-- pulled fields and archive tags of capsule_updates.sql and the new parties of capsule_creates.sql, which
-- share their columns, and the money fields of capsule_money_updates.sql (written whatever
-- sync.direction says: issue 14, part 3). No parameters.
select * from reconcile.capsule_updates
union all by name
select * from reconcile.capsule_creates
union all by name
select * from reconcile.capsule_money_updates
