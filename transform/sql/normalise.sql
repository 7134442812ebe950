-- The cx_* normalisers as DuckDB macros (transform/normalise.py and transform/domains.py, registered
-- by transform.sql.register_normalisers). The common shapes are answered here, vectorised and on
-- every thread; anything else goes to the Python function (normalise_py_<name>), which stays the
-- definition. A fast path only takes text on which Python and
-- DuckDB provably read alike, mostly printable ASCII: there str.strip/lower/casefold, NFKC/NFKD and
-- Python's \s change nothing or agree with trim/lower/RE2, and no Unicode table is needed.
-- tests/transform/test_normalise.py checks with hypothesis that macro and Python answer alike.
--
-- A macro argument is pasted in wherever it is named, and DuckDB computes a repeated expression once
-- only where it is always evaluated, not inside a case branch, so a value used more than once is
-- bound first: list_transform([value], lambda name: ...)[1]. Each lambda names only its own
-- parameter (a captured outer column costs as much again). A subquery would bind it too, but DuckDB
-- decorrelates each into a join: several times slower.
-- {free_mail_domains} (a parenthesised list of literals) and {legal_suffixes_pattern} (an alternation) are the
-- module's own constants, filled in by register().

-- text: printable ASCII has no control, format or non-space whitespace character and is NFC already,
-- so only spaces at the ends go (DuckDB's trim strips spaces). Anything else is read by Python.
create or replace temp macro cx_text(value) as
    list_transform(
        [value],
        lambda cx_value: case
            when cx_value is null then null
            when regexp_full_match(cx_value, '[ -~]*') then nullif(trim(cx_value), '')
            else normalise_py_text(cx_value)
        end
    )[1];

-- name: the same, and every run of spaces one space (in printable ASCII, whitespace is the space).
create or replace temp macro cx_name(value) as
    list_transform(
        [value],
        lambda cx_value: case
            when cx_value is null then null
            when regexp_full_match(cx_value, '[ -~]*') then nullif(regexp_replace(trim(cx_value), ' {2,}', ' ', 'g'), '')
            else normalise_py_name(cx_value)
        end
    )[1];

-- e-mail: ASCII without whitespace or controls (strip() changes nothing); the local part is runs of
-- the allowed characters joined by single dots (no leading, trailing or double dot), one "@", then
-- a host of labels and a top-level domain.
create or replace temp macro cx_email(value) as
    list_transform(
        [value],
        lambda cx_value: case
            when cx_value is null then null
            when regexp_full_match(cx_value, '[!-~]*') then
                case
                    when strlen(cx_value) <= 254 and regexp_full_match(
                        lower(cx_value),
                        '[a-z0-9!#$%&''*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&''*+/=?^_`{|}~-]+)*@'
                        || '(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})'
                    ) then lower(cx_value)
                end
            else normalise_py_email(cx_value)
        end
    )[1];

create or replace temp macro cx_email_domain(value) as split_part(cx_email(value), '@', 2);

-- website: a plausible host of at most 253 characters, or None.
create or replace temp macro normalise_host_or_null(host) as
    list_transform(
        [host],
        lambda cx_host: case
            when strlen(cx_host) <= 253 and regexp_full_match(
                cx_host, '(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})'
            ) then cx_host
        end
    )[1];

-- Already a bare host (the common case: a domain staging took from an address): lower case, and
-- only leading "www."s can go. Else, printable ASCII: scheme, "//", path/query/fragment (from the
-- first / ? # \), user (up to the last "@"), port, "www."s and trailing dots go, as in
-- website_domain(); one pattern, the host is its group.
create or replace temp macro cx_website_domain(value) as
    list_transform(
        [value],
        lambda cx_value: case
            when cx_value is null then null
            when regexp_full_match(
                cx_value,
                '(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+(?:[a-zA-Z]{2,63}|[xX][nN]--[a-zA-Z0-9-]{1,59})'
            ) then
                case
                    when starts_with(lower(cx_value), 'www.')
                        then normalise_host_or_null(regexp_replace(lower(cx_value), '^(?:www\.)+', ''))
                    when strlen(cx_value) <= 253 then lower(cx_value)
                end
            when regexp_full_match(cx_value, '[!-~]*') then normalise_host_or_null(
                rtrim(
                    regexp_extract(
                        lower(cx_value), '^(?:[a-z][a-z0-9+.-]*://)?(?://)?(?:[^/?#\\]*@)?(?:www\.)*([^/?#\\@:]*)', 1
                    ),
                    '.'
                )
            )
            else normalise_py_website_domain(cx_value)
        end
    )[1];

-- An e-mail's domain has passed the host pattern (ASCII, lower case, no trailing dot), so
-- website_domain() of it only drops leading "www."s, after which the host is checked again.
create or replace temp macro normalise_company_host(value) as
    list_transform(
        [value],
        lambda cx_value: case
            when cx_value is null then null
            when contains(cx_value, '@') and not contains(cx_value, '://') then list_transform(
                [cx_email_domain(cx_value)],
                lambda cx_domain: case
                    when starts_with(cx_domain, 'www.')
                        then normalise_host_or_null(regexp_replace(cx_domain, '^(?:www\.)+', ''))
                    else cx_domain
                end
            )[1]
            else cx_website_domain(cx_value)
        end
    )[1];

create or replace temp macro cx_company_domain(value) as
    list_transform(
        [normalise_company_host(value)], lambda cx_host: case when cx_host not in {free_mail_domains} then cx_host end
    )[1];

-- phone: phone_e164()'s own AU fast paths (_au_fast_answer), after its checks: only the allowed
-- characters (ASCII, so NFKC changes nothing; strip() takes spaces and tabs), at most 40, at most
-- one "+" and only in front, "00" read as "+" unless "0011". Then, without separators, the shapes of
-- _AU_FAST_RE and _AU_NO_AREA_CODE_RE. normalise_au_fast gives the answer, '' for "no number", or
-- NULL when libphonenumber (in Python) has to read it; that answers '' for "no number" too.
create or replace temp macro normalise_au_fast(text) as
    list_transform(
        [text],
        lambda cx_text: case
            when regexp_full_match(cx_text, '[0-9+()./ \t-]+')
                and strlen(cx_text) <= 40
                and (
                    not contains(cx_text, '+')
                    or (starts_with(cx_text, '+') and strlen(replace(cx_text, '+', '')) = strlen(cx_text) - 1)
                )
                then list_transform(
                    [
                        regexp_replace(
                            case
                                when starts_with(cx_text, '00')
                                    and not starts_with(regexp_replace(cx_text, '[^0-9]', '', 'g'), '0011')
                                    then '+' || substr(cx_text, 3)
                                else cx_text
                            end,
                            '[ \t().\-/]+',
                            '',
                            'g'
                        )
                    ],
                    lambda cx_national: case
                        when regexp_full_match(
                            cx_national, '(?:\+610?|0)?[23478][0-9]{8}|(?:\+61)?(?:1[38]00[0-9]{6}|13[0-9]{4})'
                        ) then '+61' || regexp_replace(cx_national, '^(?:\+610?|0)', '')
                        when regexp_full_match(cx_national, '(?:[2-57-9][0-9]|6[02-9])[0-9]{6}') then ''
                    end
                )[1]
        end
    )[1];

create or replace temp macro cx_phone_e164(value) as
    list_transform(
        [value],
        lambda cx_value: list_transform(
            [coalesce(normalise_au_fast(trim(cx_value, ' ' || chr(9))), normalise_py_phone_e164_or_blank(cx_value))],
            lambda cx_phone: case when cx_phone <> '' then cx_phone end
        )[1]
    )[1];

-- ABN: printable ASCII (NFKC changes nothing and \s is a space); the prefix and separators go as
-- in _abn_digits(), then abn_problem()'s rules in order, the checksum spelled out.
create or replace temp macro normalise_abn_problem(digits) as
    list_transform(
        [digits],
        lambda cx_digits: case
            when cx_digits = '' then null
            when not regexp_full_match(cx_digits, '[0-9]+') then 'not digits'
            when strlen(cx_digits) <> 11 then 'not 11 digits'
            when starts_with(cx_digits, '0') then 'starts with 0'
            when (
                (ascii(cx_digits[1]) - 49) * 10 + (ascii(cx_digits[2]) - 48) * 1 + (ascii(cx_digits[3]) - 48) * 3
                + (ascii(cx_digits[4]) - 48) * 5 + (ascii(cx_digits[5]) - 48) * 7 + (ascii(cx_digits[6]) - 48) * 9
                + (ascii(cx_digits[7]) - 48) * 11 + (ascii(cx_digits[8]) - 48) * 13
                + (ascii(cx_digits[9]) - 48) * 15 + (ascii(cx_digits[10]) - 48) * 17
                + (ascii(cx_digits[11]) - 48) * 19
            ) % 89 = 0 then null
            else 'checksum fails'
        end
    )[1];

-- The digits of a printable-ASCII ABN, '' when none; NULL when Python has to read it.
create or replace temp macro normalise_abn_digits(value) as
    list_transform(
        [value],
        lambda cx_value: case
            when regexp_full_match(cx_value, '[ -~]*') then
                regexp_replace(regexp_replace(cx_value, '^\s*abn\s*[:#.]?\s*', '', 'i'), '[\s\-./_]+', '', 'g')
        end
    )[1];

create or replace temp macro cx_abn_problem(value) as
    list_transform(
        [value],
        lambda cx_value: case
            when cx_value is null then null
            when regexp_full_match(cx_value, '[ -~]*') then
                list_transform([normalise_abn_digits(cx_value)], lambda cx_digits: normalise_abn_problem(cx_digits))[1]
            else normalise_py_abn_problem(cx_value)
        end
    )[1];

create or replace temp macro cx_abn(value) as
    list_transform(
        [value],
        lambda cx_value: case
            when cx_value is null then null
            when regexp_full_match(cx_value, '[ -~]*') then
                list_transform(
                    [normalise_abn_digits(cx_value)],
                    lambda cx_digits: case
                        when cx_digits <> '' and normalise_abn_problem(cx_digits) is null then cx_digits
                    end
                )[1]
            else normalise_py_abn(cx_value)
        end
    )[1];

-- folded name: printable ASCII (no control for clean_text to drop): casefold is lower(), NFKD changes
-- nothing, letters and digits are [a-z0-9]; apostrophes go, "&" is "and", anything else splits words. Then leading
-- "the"s and trailing legal-form words go but never the last word: both patterns need a space
-- after or before each word they take, and the last word left has none.
create or replace temp macro cx_fold_name(value) as
    list_transform(
        [value],
        lambda cx_value: case
            when cx_value is null then null
            when regexp_full_match(cx_value, '[ -~]*') then list_transform(
                [
                    regexp_replace(
                        regexp_replace(
                            trim(
                                regexp_replace(
                                    replace(replace(replace(lower(cx_value), '''', ''), '`', ''), '&', ' and '),
                                    '[^a-z0-9]+',
                                    ' ',
                                    'g'
                                )
                            ),
                            '^(?:the )+',
                            ''
                        ),
                        '(?: (?:{legal_suffixes_pattern}))+$',
                        ''
                    )
                ],
                lambda cx_folded: case when cx_folded <> '' then cx_folded end
            )[1]
            else normalise_py_fold_name(cx_value)
        end
    )[1];
