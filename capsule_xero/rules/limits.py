"""How much a rules file may ask for: Xero's field lengths and the bounds on a file's size and lists."""

from __future__ import annotations

# Xero's ContactNumber holds at most 50 characters (docs/api-facts.md#xero-contact-fields-and-limits) and Capsule ids fit in 20
# digits, so a prefix of at most 30 keeps every ContactNumber this tool writes within the limit.
CONTACT_NUMBER_LIMIT = 50
MAX_PARTY_ID_DIGITS = 20
MAX_CONTACT_NUMBER_PREFIX = CONTACT_NUMBER_LIMIT - MAX_PARTY_ID_DIGITS

# What a rules file may hold. A consultant's file is a few kilobytes (the example with every option
# and its comments is under 10,000 characters); these bounds refuse a hostile or broken one at load
# time, with its line, instead of letting it hang the YAML reader or break the reconcile later.
MAX_FILE_CHARACTERS = 100_000  # PyYAML reads roughly 100 KB a second on a busy machine
MAX_VALUES = 20_000  # every key, value and list, counted after aliases (*name) are expanded
MAX_DEPTH = 20  # the deepest rule needs 6 levels; PyYAML's composer recurses once per level
MAX_TEXT = 1_000  # characters in any one key or value
# Each transform is one nested step of a single DuckDB query (transform/rules_sql.py): DuckDB refuses
# past 1,000 levels of expressions, and planning slows long before that.
MAX_TRANSFORMS = 100
# Each condition is one branch of the sync-scope query's CASE, evaluated for every party.
MAX_CONDITIONS = 100
# Xero keeps at most 100 contact groups per organisation (docs/api-facts.md#xero-contact-groups).
MAX_CONTACT_GROUPS = 100
# Xero's lengths for the text fields a transform writes (docs/api-facts.md#xero-contact-fields-and-limits).
# Website has no stated limit and is read-only in Xero: it gets Name's, the stricter
# choice. A contact group's Name has no stated limit either; it gets Contact Name's for the same reason.
XERO_TEXT_LIMITS = {"name": 255, "first_name": 255, "last_name": 255, "email_address": 255, "website": 255}
GROUP_NAME_LIMIT = 255
