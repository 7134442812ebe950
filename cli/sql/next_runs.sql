-- What the next automatic runs will read, for `capsule-xero status` (cli/next_runs.py).

-- name: xero_contacts
-- Every contact the last read saw, archived included: the nightly's full read pages through them all.
select count(*) as contacts
from raw.xero_contacts

-- name: capsule_tasks
-- Tasks have no `since` in Capsule's API: every run reads them whole, 100 a page.
select count(*) as tasks
from raw.capsule_tasks
