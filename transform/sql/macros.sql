-- Shared shapes for both sides of the reconciliation (transform/sql/reconcile/README.md, "The contact
-- shape"): the Capsule party and the Xero contact are staged and assembled by these same macros, so
-- equal means equal. Temporary: they live with the connection, like the cx_* normalisers, and no
-- table depends on them after it is built.

-- Text as it is compared and sent (cx_text, transform/normalise.py clean_text: NFC, no controls, nothing
-- invisible at the ends); an empty or blank text is no value.
create or replace temp macro cx_blank(value) as cx_text(value);

-- Australia written any common way; anything else is a foreign country, kept as typed.
create or replace temp macro cx_country(value) as
    case
        when upper(cx_text(value)) in ('AU', 'AUS', 'AUSTRALIA') then 'Australia'
        else cx_blank(value)
    end;

-- AU state and territory names (any case) become their codes (CASES.md address_state_unnormalised);
-- outside Australia the region is kept as typed.
create or replace temp macro cx_region(value, country) as
    case
        when cx_country(country) is not null and cx_country(country) <> 'Australia' then cx_blank(value)
        else coalesce(
            case upper(regexp_replace(cx_text(value), '\.$', ''))
                when 'NEW SOUTH WALES' then 'NSW'
                when 'NSW' then 'NSW'
                when 'VICTORIA' then 'VIC'
                when 'VIC' then 'VIC'
                when 'QUEENSLAND' then 'QLD'
                when 'QLD' then 'QLD'
                when 'WESTERN AUSTRALIA' then 'WA'
                when 'WA' then 'WA'
                when 'SOUTH AUSTRALIA' then 'SA'
                when 'SA' then 'SA'
                when 'TASMANIA' then 'TAS'
                when 'TAS' then 'TAS'
                when 'AUSTRALIAN CAPITAL TERRITORY' then 'ACT'
                when 'ACT' then 'ACT'
                when 'NORTHERN TERRITORY' then 'NT'
                when 'NT' then 'NT'
            end,
            cx_blank(value)
        )
    end;

-- Xero has four address lines (AddressLine1-4, docs/api-facts.md#xero-contact-fields-and-limits): a
-- longer street keeps its first three lines and joins the rest into the fourth, so nothing is dropped
-- and the stored form compares equal.
create or replace temp macro cx_fit_lines(lines) as
    case when len(lines) > 4 then lines[1:3] || [array_to_string(lines[4:], ', ')] else lines end;

-- Address lines: cleaned (cx_text), blank ones dropped (Xero pads with empty lines, Capsule splits on
-- newlines).
create or replace temp macro cx_address_lines(lines) as
    cx_fit_lines(list_filter(list_transform(lines, lambda line: cx_text(line)), lambda line: line is not null));

-- A Capsule street: one text, lines separated by newlines.
create or replace temp macro cx_street_lines(street) as
    cx_address_lines(string_split(replace(coalesce(street, ''), chr(13), ''), chr(10)));

-- The canonical address (README: "{lines: [..], city, region, postal_code, country}"), null when empty.
-- The parts are staged already canonical (cx_address_lines, cx_blank, cx_region, cx_country).
create or replace temp macro cx_address_json(lines, city, region, postal_code, country) as
    case
        when len(coalesce(lines, [])) > 0 or coalesce(city, region, postal_code, country) is not null
            then cast(
                json_object(
                    'lines', coalesce(lines, cast([] as varchar[])),
                    'city', city,
                    'region', region,
                    'postal_code', postal_code,
                    'country', country
                ) as varchar
            )
    end;

-- One ContactPerson as compared: names cleaned (cx_name), the e-mail already canonical (cx_email) or null.
create or replace temp macro cx_contact_person(first_name, last_name, email_address) as
    struct_pack(
        first_name := cx_name(first_name),
        last_name := cx_name(last_name),
        email_address := email_address
    );

-- ContactPersons in order (Xero keeps the list as written), null when there are none.
create or replace temp macro cx_persons_json(persons) as
    case when len(coalesce(persons, [])) > 0 then cast(to_json(persons) as varchar) end;

-- The desired value of a field, unless it is empty only because its Capsule value is quarantined
-- (reconcile/mapped_contacts.sql: quarantined_fields): then Xero's, so nothing is sent and Xero keeps it.
create or replace temp macro cx_unless_quarantined(desired, current, quarantined, field) as
    case when desired is null and list_contains(quarantined, field) then current else desired end;

-- The desired ContactPersons (JSON text, cx_persons_json) with each quarantined person's missing
-- e-mail taken from the ContactPerson of the same names in Xero's list: Xero replaces the whole list
-- on every write, so a person whose every Capsule address is quarantined must be sent with the
-- address Xero has (README: a quarantined value is not sent), never without one.
create or replace temp macro cx_persons_keeping_emails(desired, current_persons, quarantined) as
    cast(
        to_json(
            list_transform(
                from_json(desired, '[{"first_name":"VARCHAR","last_name":"VARCHAR","email_address":"VARCHAR"}]'),
                lambda person: struct_pack(
                    first_name := person.first_name,
                    last_name := person.last_name,
                    email_address := coalesce(
                        person.email_address,
                        case
                            when list_contains(
                                quarantined,
                                struct_pack(first_name := person.first_name, last_name := person.last_name)
                            )
                                then list_filter(
                                    from_json(
                                        current_persons,
                                        '[{"first_name":"VARCHAR","last_name":"VARCHAR","email_address":"VARCHAR"}]'
                                    ),
                                    lambda held: held.first_name is not distinct from person.first_name
                                    and held.last_name is not distinct from person.last_name
                                )[1].email_address
                        end
                    )
                )
            )
        ) as varchar
    );

-- Group names sorted and distinct (membership has no order), null when there are none.
create or replace temp macro cx_groups_json(names) as
    case
        when len(list_distinct(coalesce(names, []))) > 0
            then cast(to_json(list_sort(list_distinct(names))) as varchar)
    end;

-- A Capsule party's change time with one of this tool's own writes peeled off: while the party's stamp
-- lies after the one from before that write and is no later than the one Capsule answered it with (and
-- the write still stands), the change is the write, not anyone's edit, so the stamp from before it
-- stands (staging/capsule_parties.sql). A stamp from before the write is left as it is.
create or replace temp macro cx_before_own_write(stamp, written_before, written_after, still_ours) as
    case
        when stamp <= written_after and (written_before is null or stamp > written_before) and still_ours
            then written_before
        else stamp
    end;
