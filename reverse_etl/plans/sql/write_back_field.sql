-- Whether Capsule has the custom party field the ContactID is written back to (as last extracted).
-- Parameters: $field_name (the rules file's capsule.xero_contact_id_field).
select count(*) > 0 as defined
from raw.capsule_party_field_definitions
where lower(trim(name)) = lower(trim($field_name))
