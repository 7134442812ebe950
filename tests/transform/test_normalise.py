"""The staging normalisers: real-world tables, properties for any input, the generator's cases, DuckDB."""

from __future__ import annotations

import random
import re
import unicodedata

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.generator import abn as generator_abn
from sandbox.generator import generate, phones
from sandbox.generator.capsule import DEF_ABN
from transform import domains
from transform import normalise as n
from transform.sql import register_normalisers

E164_RE = re.compile(r"^\+\d{8,15}$")
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Any text at all, None, and text shaped like the values each normaliser meets, so the properties
# reach the interesting branches and not only the "garbage → None" one.
ANY_TEXT = st.one_of(st.none(), st.text(), st.text(alphabet=st.characters(codec="utf-8")))
PHONE_LIKE = st.text(alphabet="0123456789 +()-./", max_size=24)
ABN_LIKE = st.one_of(
    st.text(alphabet="0123456789 -.", max_size=16),
    st.builds(lambda seed: generator_abn.make_valid(random.Random(seed)), st.integers(0, 10**6)),
)
EMAIL_LIKE = st.one_of(st.emails(), st.text(alphabet="abcAB.@ -_+1", max_size=20))
NAME_LIKE = st.one_of(
    st.text(),
    st.lists(
        st.sampled_from(
            ["Pty", "Ltd", ".", "&", "the", "Co", "Café", "Nguyễn", "李", "ガ", "Đặng", "  ", "'"]
        ),
        max_size=8,
    ).map(" ".join),
)


# ------------------------------------------------------------------------------------------ examples

PHONE_EXAMPLES = [
    ("0412 345 678", "+61412345678"),
    ("0412345678", "+61412345678"),
    ("04 1234 5678", "+61412345678"),
    ("+61 412 345 678", "+61412345678"),
    ("+61412345678", "+61412345678"),
    ("0061 412 345 678", "+61412345678"),
    ("0011 61 412 345 678", "+61412345678"),
    ("(02) 9876 5432", "+61298765432"),
    ("02 9876 5432", "+61298765432"),
    ("0298765432", "+61298765432"),
    ("02-9876-5432", "+61298765432"),
    ("+61 2 9876 5432", "+61298765432"),
    ("+61 (0)2 9876 5432", "+61298765432"),
    ("+61 (02) 9876 5432", "+61298765432"),
    ("(03) 9555 1234", "+61395551234"),
    ("(07) 3333 1234", "+61733331234"),
    ("(08) 9444 1234", "+61894441234"),
    ("1300 123 456", "+611300123456"),
    ("1800 12 34 56", "+611800123456"),
    ("13 12 34", "+61131234"),
    ("+64 9 555 1234", "+6495551234"),
    ("０４１２ ３４５ ６７８", "+61412345678"),  # full-width digits
    ("0441 281 691", "+61441281691"),  # a range libphonenumber calls unallocated: kept (see docstring)
]
PHONE_GARBAGE = [
    "9876 5432",  # no area code: never guessed
    "N/A",
    "TBC",
    "call reception",
    "0412 345",
    "0412 345 678 or 0413 111 222",
    "0412 345 678 / 0413 111 222",
    "12345678901234567890",
    "+61",
    "-",
    "0000 000 000",
    "ext. 204",
    "ph: ask for Dave",
    "",
    "   ",
    None,
    412345678,
]


@pytest.mark.parametrize(("typed", "expected"), PHONE_EXAMPLES)
def test_every_au_phone_format_becomes_the_same_e164_number(typed: str, expected: str) -> None:
    assert n.phone_e164(typed) == expected


@pytest.mark.parametrize("typed", PHONE_GARBAGE)
def test_garbage_and_incomplete_phones_give_none(typed: object) -> None:
    assert n.phone_e164(typed) is None


def test_strict_phone_reading_rejects_ranges_libphonenumber_calls_unallocated() -> None:
    assert n.phone_e164("0441 281 691", strict=True) is None
    assert n.phone_e164("0412 345 678", strict=True) == "+61412345678"


def test_a_national_number_is_read_in_the_given_default_region() -> None:
    assert n.phone_e164("09 555 1234", default_region="NZ") == "+6495551234"
    assert n.phone_e164("09 555 1234") is None  # not an AU number


def test_every_phone_format_the_generator_types_normalises_as_casesmd_says() -> None:
    rng = random.Random(11)
    for label in phones.FORMATS:
        for state in ("NSW", "VIC", "QLD", "SA", "WA", "TAS", "NT", "ACT", None):
            for _ in range(20):
                typed = phones.make(rng, label, state)
                got = n.phone_e164(typed)
                if label in phones.CLEAN_FORMATS:
                    assert got == phones.to_e164(typed), (label, typed)
                elif label in ("landline_no_area_code", "garbage"):
                    assert got is None, (label, typed)
                elif label == "overseas":
                    assert got is not None and got.startswith("+64"), typed
                else:  # dashed, trunk zero, 1300/1800, 13 xx xx
                    assert got is not None and got.startswith("+61"), (label, typed)
                    assert got[3:] == re.sub(r"\D", "", typed).removeprefix("61").removeprefix("0"), typed


ABN_EXAMPLES = [
    ("51 824 753 556", "51824753556", None),
    ("51824753556", "51824753556", None),
    ("51-824-753-556", "51824753556", None),
    ("51.824.753.556", "51824753556", None),
    ("ABN 51 824 753 556", "51824753556", None),
    ("ABN: 51824753556", "51824753556", None),
    ("abn51824753556", "51824753556", None),
    (" 51824 753556 ", "51824753556", None),
    ("51 824 753 557", None, "checksum fails"),
    ("51 824 753 55", None, "not 11 digits"),
    ("123 456 789", None, "not 11 digits"),  # an ACN in the ABN field
    ("51 824 753 5560", None, "not 11 digits"),
    ("01 824 753 556", None, "starts with 0"),
    ("N/A", None, "not digits"),
    ("51 824 753 556 (old)", None, "not digits"),
    ("", None, None),
    ("   ", None, None),
    (None, None, None),
    (51824753556, None, None),
]


@pytest.mark.parametrize(("typed", "expected", "problem"), ABN_EXAMPLES)
def test_abns_keep_their_11_digits_only_when_the_checksum_passes(
    typed: object, expected: str | None, problem: str | None
) -> None:
    assert n.abn(typed) == expected
    assert n.abn_problem(typed) == problem


NAMES_FOLDING_EQUAL = [
    ("Harbourside Joinery Pty Ltd", "HARBOURSIDE JOINERY PTY. LIMITED", "Harbourside Joinery"),
    ("Smith & Sons", "Smith and Sons", "SMITH AND SONS PTY LTD"),
    ("Café Ōtautahi", "Cafe Otautahi", "CAFÉ ŌTAUTAHI"),
    ("Zoë Müller", "Zoe Muller", "zoë  müller"),
    ("Nguyễn Văn Đặng", "Nguyen Van Dang", "NGUYỄN VĂN ĐẶNG"),
    ("Tāmati Ngāta", "Tamati Ngata", "tāmati ngāta"),
    ("The Bakehouse Proprietary Limited", "Bakehouse", "The Bakehouse Pty. Ltd."),
    ("Acme Corporation", "ACME Corp.", "Acme Inc"),
    ("O'Brien's Plumbing", "OBriens Plumbing", "O’Brien’s Plumbing"),
    ("Blue-Gum Landscaping", "Blue Gum Landscaping", "Blue  Gum,  Landscaping"),
    ("李 伟", "李  伟", " 李 伟 "),
]
NAMES_NOT_FOLDING_EQUAL = [
    ("Harbourside Joinery", "Harbourside Joinery Supplies"),
    ("Smith Plumbing", "Smyth Plumbing"),
    ("Smith & Sons", "Smith Sons"),
    ("李 伟", "李 伟伟"),
    ("Coastal Electrical", "Coast Electrical"),
    ("Bayside Café", "Bayside Cafés"),
    ("ガス", "カス"),  # a kana voicing mark is part of the letter, not an accent
]


@pytest.mark.parametrize("names", NAMES_FOLDING_EQUAL)
def test_names_differing_by_case_accents_punctuation_or_legal_form_fold_equal(names: tuple[str, ...]) -> None:
    assert len({n.fold_name(name) for name in names}) == 1


@pytest.mark.parametrize(("left", "right"), NAMES_NOT_FOLDING_EQUAL)
def test_names_of_different_companies_do_not_fold_equal(left: str, right: str) -> None:
    assert n.fold_name(left) != n.fold_name(right)


@pytest.mark.parametrize(
    ("name", "folded"),
    [
        ("Harbourside Joinery Pty Ltd", "harbourside joinery"),
        ("Smith & Sons", "smith and sons"),
        ("金龙 Trading Pty Ltd", "金龙 trading"),
        ("김민준", "김민준"),
        ("The Company", "company"),  # never strips the last word
        ("Pty Ltd", "pty"),
        ("...", None),
        ("", None),
        (None, None),
    ],
)
def test_folded_names_read_as_expected(name: str | None, folded: str | None) -> None:
    assert n.fold_name(name) == folded


EMAIL_EXAMPLES = [
    ("  Sam.Jones@Example.COM.au ", "sam.jones@example.com.au"),
    ("accounts+xero@harbourside-joinery.com.au", "accounts+xero@harbourside-joinery.com.au"),
    ("o'brien@obrien.net", "o'brien@obrien.net"),
    ("sam.jones.example.com", None),  # missing @
    ("sam jones@example.com", None),  # space
    ("sam..jones@example.com", None),  # double dot
    ("sam@example..com", None),
    ("sam@example.com.", None),  # trailing dot
    (".sam@example.com", None),
    ("sam.@example.com", None),
    ("sam@@example.com", None),
    ("sam@example", None),  # no top-level domain
    ("@example.com", None),
    ("sam@", None),
    ("sam@.example.com", None),
    ("zoë@example.com", None),  # not ASCII: Xero would refuse it
    ("", None),
    (None, None),
]


@pytest.mark.parametrize(("typed", "expected"), EMAIL_EXAMPLES)
def test_emails_are_trimmed_lower_cased_and_only_kept_when_plausible(
    typed: str | None, expected: str | None
) -> None:
    assert n.email(typed) == expected
    assert n.email_domain(typed) == (expected.partition("@")[2] if expected else None)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("https://www.Example.com.au/about", "example.com.au"),
        ("example.com.au", "example.com.au"),
        ("http://example.com:8080", "example.com"),
        ("HTTP://WWW.EXAMPLE.COM/", "example.com"),
        ("www.example.com?ref=x", "example.com"),
        ("//cdn.example.com/x.png", "cdn.example.com"),
        ("https://user:pw@example.com/", "example.com"),
        ("example.com.", "example.com"),
        ("https://café.com.au", "xn--caf-dma.com.au"),
        ("localhost", None),
        ("not a website", None),
        ("https://", None),
        ("", None),
        (None, None),
    ],
)
def test_website_domains_lose_scheme_www_port_and_path(typed: str | None, expected: str | None) -> None:
    assert domains.website_domain(typed) == expected


@pytest.mark.parametrize(
    ("value", "free", "company"),
    [
        ("sam@gmail.com", True, None),
        ("Sam@Bigpond.NET.au", True, None),
        ("optusnet.com.au", True, None),
        ("https://www.outlook.com/", True, None),
        ("jo@yahoo.com.au", True, None),
        ("jo@icloud.com", True, None),
        ("accounts@harbourside.com.au", False, "harbourside.com.au"),
        ("https://www.harbourside.com.au/contact", False, "harbourside.com.au"),
        ("mia@southerncrosstrade.com.au", False, "southerncrosstrade.com.au"),
        ("gmail.com.evil.com", False, "gmail.com.evil.com"),
        ("accounts@www.harbourside.com.au", False, "harbourside.com.au"),
        ("not an address", False, None),
        (None, False, None),
    ],
)
def test_free_mail_domains_never_count_as_company_domains(
    value: str | None, free: bool, company: str | None
) -> None:
    assert domains.is_free_mail(value) is free
    assert domains.company_domain(value) == company


def test_the_free_mail_list_holds_the_providers_casesmd_names() -> None:
    named = {"gmail.com", "outlook.com", "hotmail.com", "yahoo.com.au", "bigpond.com", "bigpond.net.au"}
    assert named | {"optusnet.com.au", "icloud.com"} <= domains.FREE_MAIL_DOMAINS
    assert all(domain == domains.website_domain(domain) for domain in domains.FREE_MAIL_DOMAINS)


# ---------------------------------------------------------------------------------------- properties

TEXT_NORMALISERS = [
    n.clean_text,
    n.clean_name,
    n.email,
    domains.website_domain,
    domains.company_domain,
    n.phone_e164,
    n.abn,
    n.fold_name,
]


@pytest.mark.parametrize(
    "normaliser", [*TEXT_NORMALISERS, n.email_domain, n.abn_problem, domains.is_free_mail]
)
@PROPERTY
@given(value=st.one_of(ANY_TEXT, PHONE_LIKE, ABN_LIKE, EMAIL_LIKE, NAME_LIKE, st.integers(), st.binary()))
def test_no_normaliser_ever_raises(normaliser, value) -> None:
    result = normaliser(value)
    assert result is None or isinstance(result, str | bool)


@pytest.mark.parametrize("normaliser", TEXT_NORMALISERS)
@PROPERTY
@given(value=st.one_of(ANY_TEXT, PHONE_LIKE, ABN_LIKE, EMAIL_LIKE, NAME_LIKE))
def test_every_normaliser_is_idempotent(normaliser, value) -> None:
    once = normaliser(value)
    assert normaliser(once) == once


@PROPERTY
@given(value=st.one_of(ANY_TEXT, EMAIL_LIKE))
def test_an_email_domain_is_a_website_domain_and_free_or_company(value) -> None:
    domain = n.email_domain(value)
    if domain is None:
        return
    host = domains.website_domain(domain)
    assert host is not None and host in domain
    assert domains.company_domain(value) == (None if domains.is_free_mail(domain) else host)


@PROPERTY
@given(
    value=st.one_of(
        PHONE_LIKE,
        st.from_regex(r"\A(\+61 ?|\+61 ?\(?0\)? ?|0061 |0|\(0|)[0-9]\)? ?[0-9 ()-]{7,12}\Z"),
        st.from_regex(r"\A(\+61 ?0?|0|)[23478][0-9]{8}\Z"),
        st.from_regex(
            r"\A(\+61 ?|0|)(1[38]00 ?[0-9]{3} ?[0-9]{3}|13 ?[0-9]{2} ?[0-9]{2}|[1-9][0-9]{3} ?[0-9]{4})\Z"
        ),
    )
)
def test_the_fast_au_phone_path_agrees_with_libphonenumber(value) -> None:
    cleaned = re.sub(r"^00(?!11)", "+", value.strip())
    answer = n._au_fast_answer(cleaned)
    if answer is not n._ASK_LIBPHONENUMBER:
        assert answer == n._parse_phone(cleaned, "AU", False), value


@PROPERTY
@given(value=st.one_of(ANY_TEXT, PHONE_LIKE))
def test_phones_come_out_as_e164_or_none(value) -> None:
    result = n.phone_e164(value)
    assert result is None or E164_RE.match(result)


@PROPERTY
@given(value=st.one_of(ANY_TEXT, ABN_LIKE))
def test_abns_come_out_as_11_digits_passing_the_checksum_or_with_a_named_problem(value) -> None:
    result = n.abn(value)
    problem = n.abn_problem(value)
    if result is not None:
        assert re.fullmatch(r"\d{11}", result) and generator_abn.is_valid(result)
        assert problem is None
    else:
        assert problem in (*n.ABN_PROBLEMS, None)


@PROPERTY
@given(value=st.one_of(ANY_TEXT, NAME_LIKE))
def test_folded_names_have_no_uppercase_latin_accents_or_double_spaces(value) -> None:
    result = n.fold_name(value)
    if result is None:
        return
    assert result == result.strip() and "  " not in result and result
    decomposed = unicodedata.normalize("NFKD", result)
    assert decomposed.casefold() == decomposed  # already case-folded (Cherokee folds to upper case)
    assert not any(c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" for c in result)
    latin = unicodedata.normalize("NFKD", "".join(c for c in result if ord(c) < 0x0370))
    assert not any(unicodedata.combining(c) for c in latin)
    assert not any(c in "&.,'-()" for c in result)


@PROPERTY
@given(value=st.one_of(ANY_TEXT, EMAIL_LIKE))
def test_emails_come_out_lower_case_with_one_at_and_a_dotted_domain(value) -> None:
    result = n.email(value)
    if result is None:
        return
    local, domain = result.split("@")
    assert result == result.lower().strip() and local and "." in domain
    assert ".." not in result and not {result[0], result[-1], local[-1], domain[0]} & {"."}


# --------------------------------------------------------------------------------- generator's ABNs


def test_every_abn_the_generator_marks_valid_passes_and_every_invalid_one_fails() -> None:
    dataset = generate(parties=1000, seed=3)
    typed_abn = {
        party["id"]: next((f["value"] for f in party["fields"] if f["definition"]["id"] == DEF_ABN), None)
        for party in dataset.capsule_parties
    }
    valid = ("abn_valid_spaced", "abn_valid_plain", "abn_valid_odd_format")
    for case in valid:
        assert dataset.cases[case], case
        for party_id in dataset.cases[case]:
            assert n.abn(typed_abn[party_id]) == generator_abn.digits_of(typed_abn[party_id]), case
            assert n.abn_problem(typed_abn[party_id]) is None
    for case, problems in {
        "abn_invalid_checksum": {"checksum fails", "starts with 0"},
        "abn_wrong_length": {"not 11 digits"},
    }.items():
        assert dataset.cases[case], case
        for party_id in dataset.cases[case]:
            assert n.abn(typed_abn[party_id]) is None, (case, typed_abn[party_id])
            assert n.abn_problem(typed_abn[party_id]) in problems, (case, typed_abn[party_id])
    for party_id in dataset.cases["abn_missing"]:
        assert typed_abn[party_id] is None and n.abn(None) is None and n.abn_problem(None) is None


# ---------------------------------------------------------------------------------------------- DuckDB

SQL_FUNCTIONS = {
    "cx_text": n.clean_text,
    "cx_name": n.clean_name,
    "cx_email": n.email,
    "cx_email_domain": n.email_domain,
    "cx_website_domain": domains.website_domain,
    "cx_company_domain": domains.company_domain,
    "cx_is_free_mail": domains.is_free_mail,
    "cx_phone_e164": n.phone_e164,
    "cx_abn": n.abn,
    "cx_abn_problem": n.abn_problem,
    "cx_fold_name": n.fold_name,
}


@pytest.mark.parametrize("sql_fast_paths", [True, False])
def test_the_duckdb_functions_answer_like_the_python_ones_nulls_included(sql_fast_paths: bool) -> None:
    values = [
        *(typed for typed, _ in PHONE_EXAMPLES),
        *(typed for typed, _, _ in ABN_EXAMPLES if isinstance(typed, str)),
        *(typed for typed, _ in EMAIL_EXAMPLES if typed is not None),
        *(name for names in NAMES_FOLDING_EQUAL for name in names),
        "https://www.Example.com.au/about",
        "sam@gmail.com",
        "N/A",
        None,
    ]
    con = register_normalisers(duckdb.connect(), sql_fast_paths=sql_fast_paths)
    con.execute("CREATE TABLE t (i INTEGER, v VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(values)))
    select = ", ".join(f"{name}(v)" for name in SQL_FUNCTIONS)
    rows = con.execute(f"SELECT v, {select} FROM t ORDER BY i").fetchall()  # noqa: S608 (our names)
    assert len(rows) == len(values)
    for value, *answers in rows:
        for (name, function), answer in zip(SQL_FUNCTIONS.items(), answers, strict=True):
            expected = None if value is None else function(value)
            assert answer == expected, (name, value)
    # The answers' SQL types (a macro declares none, so ask its answer).
    ((free_type, abn_type),) = con.execute(
        "SELECT typeof(cx_is_free_mail('x')), typeof(cx_abn('x'))"
    ).fetchall()
    assert free_type == "BOOLEAN" and abn_type == "VARCHAR"
    names = con.execute(
        "SELECT function_name FROM duckdb_functions() WHERE function_name LIKE 'cx_%'"
    ).fetchall()
    assert {name for (name,) in names} == set(SQL_FUNCTIONS)


# ------------------------------------------------------------------------------ DuckDB's fast paths

# register_normalisers() answers the common shapes in SQL (transform/sql/normalise.sql) and hands the rest to Python:
# on any input, the macro and the Python function must agree. The strategies aim at the edges of
# each fast path (ASCII or not, whitespace, separators, prefixes, the "+" and "00" rules, "www.",
# user and port in URLs, legal suffixes and "the" around names) as well as at any text at all.
PRINTABLE = st.characters(min_codepoint=0, max_codepoint=0x7F)
URL_LIKE = st.one_of(
    st.from_regex(
        r"\A\s?((HTTPS?|ftp)://|//|)(\w+(:\w*)?@)?(WWW\.|www\.)*[a-zA-Z0-9-]{0,8}(\.[a-z0-9-]{0,8}){0,3}\.?"
        r"(:\d{0,4})?([/?#\\][\w/.?#@:]*)?\s?\Z"
    ),
    st.text(alphabet="abwW.:/@?#\\-1 ", max_size=24),
)
PHONE_SHAPED = st.one_of(
    PHONE_LIKE,
    st.from_regex(r"\A[ \t]?(\+ ?61 ?(\(?0\)?)?|0061 ?|0011 ?61 ?|00|0|\(0|)[0-9 ()./-]{6,14}[ \t]?\Z"),
    st.text(alphabet="0123456789 +()-./\t\n", max_size=20),
)
ABN_SHAPED = st.one_of(
    ABN_LIKE,
    st.from_regex(r"\A\s?([Aa][Bb][Nn]\s?[:#.]?\s?)?[0-9 ._/-]{8,16}\s?\Z"),
    st.text(alphabet="0123456789 -._/abnABN:#\t", max_size=18),
)
# Names with what a paste or a hostile party brings: controls, escapes, zero-width and decomposed letters.
HOSTILE_TEXT = st.lists(
    st.sampled_from(
        [
            "Acme",
            "Café",
            "Cafe\u0301",
            " ",
            "\t",
            "\n",
            "\x00",
            "\x1b[31m",
            "\x1b",
            "\x7f",
            "\x85",
            "\u200b",
            "\u200d",
            "\ufeff",
            "\u00ad",
            "\u3164",
            "\u00a0",
            "  ",
            "Pty",
            "<",
            ">",
        ]
    ),
    max_size=8,
).map("".join)
NAME_SHAPED = st.one_of(
    NAME_LIKE,
    st.lists(
        st.sampled_from(
            ["the", "The", "PTY", "ltd.", "Co", "&", "'", "`", "´", "x", "Smith", "-", "  ", "9"]
        ),
        max_size=7,
    ).map(" ".join),
    st.text(alphabet=PRINTABLE, max_size=20),
)
FAST_PATHS = {
    "cx_text": (n.clean_text, st.one_of(ANY_TEXT, NAME_SHAPED, HOSTILE_TEXT, st.text(alphabet=PRINTABLE))),
    "cx_name": (n.clean_name, st.one_of(ANY_TEXT, NAME_SHAPED, HOSTILE_TEXT, st.text(alphabet=PRINTABLE))),
    "cx_email": (n.email, st.one_of(ANY_TEXT, EMAIL_LIKE, st.emails(), st.text(alphabet=PRINTABLE))),
    "cx_email_domain": (n.email_domain, st.one_of(ANY_TEXT, EMAIL_LIKE, st.emails())),
    "cx_website_domain": (domains.website_domain, st.one_of(ANY_TEXT, URL_LIKE, st.text(alphabet=PRINTABLE))),
    "cx_company_domain": (domains.company_domain, st.one_of(ANY_TEXT, URL_LIKE, EMAIL_LIKE, st.emails())),
    "cx_phone_e164": (n.phone_e164, st.one_of(ANY_TEXT, PHONE_SHAPED)),
    "cx_abn": (n.abn, st.one_of(ANY_TEXT, ABN_SHAPED, st.text(alphabet=PRINTABLE))),
    "cx_abn_problem": (n.abn_problem, st.one_of(ANY_TEXT, ABN_SHAPED, st.text(alphabet=PRINTABLE))),
    "cx_fold_name": (n.fold_name, st.one_of(ANY_TEXT, NAME_SHAPED, HOSTILE_TEXT)),
}


@pytest.fixture(scope="module")
def fast_con() -> duckdb.DuckDBPyConnection:
    return register_normalisers(duckdb.connect())


def _sql_answers(con: duckdb.DuckDBPyConnection, function: str, values: list[str | None]) -> list[object]:
    rows = con.execute(
        f"select {function}(l[i]) from (select ?::varchar[] as l), range(1, len(l) + 1) as t(i) order by i",  # noqa: S608 (our names)
        [values],
    ).fetchall()
    return [answer for (answer,) in rows]


@pytest.mark.parametrize("function", FAST_PATHS)
@PROPERTY
@given(data=st.data())
def test_each_sql_fast_path_answers_exactly_like_the_python_normaliser(fast_con, function, data) -> None:
    python, strategy = FAST_PATHS[function]
    values = data.draw(st.lists(strategy, min_size=1, max_size=20))
    assert _sql_answers(fast_con, function, values) == [python(value) for value in values]


def test_the_fast_paths_answer_the_generators_values_like_python(fast_con) -> None:
    rng = random.Random(5)
    phones_typed = [phones.make(rng, label, "NSW") for label in phones.FORMATS for _ in range(30)]
    names = [
        *(name for names in NAMES_FOLDING_EQUAL for name in names),
        *(a for a, _ in NAMES_NOT_FOLDING_EQUAL),
    ]
    cases = {
        "cx_phone_e164": [*phones_typed, *(typed for typed, _ in PHONE_EXAMPLES), *PHONE_GARBAGE[:-1]],
        "cx_abn": [typed for typed, _, _ in ABN_EXAMPLES if not isinstance(typed, int)],
        "cx_abn_problem": [typed for typed, _, _ in ABN_EXAMPLES if not isinstance(typed, int)],
        "cx_email": [typed for typed, _ in EMAIL_EXAMPLES],
        "cx_fold_name": names,
    }
    for function, values in cases.items():
        python = FAST_PATHS[function][0]
        assert _sql_answers(fast_con, function, values) == [python(value) for value in values], function


# ------------------------------------------------------------------------------------------------ text

TEXT_EXAMPLES = [
    ("\u200b\u200b", None),  # only zero-width: nothing a reader sees, so no name
    ("\ufeff\u200d \u00a0", None),
    ("\u3164", None),  # a Hangul filler: a blank letter
    ("  Acme Pty Ltd\t", "Acme Pty Ltd"),
    ("\u200bAcme\u200b", "Acme"),
    ("Ac\x00me", "Acme"),  # NUL inside goes
    ("\x1b[31mRed\x1b[0m Co", "Red Co"),  # a terminal escape sequence goes whole
    ("Acme\x1b", "Acme"),
    ("Line one\nline two", "Line one line two"),
    ("Cafe\u0301 Nero", "Caf\u00e9 Nero"),  # NFD becomes NFC
    ("Caf\u00e9 Nero", "Caf\u00e9 Nero"),
    (
        "\u0928\u092e\u0938\u094d\u200d\u0924\u0947",
        "\u0928\u092e\u0938\u094d\u200d\u0924\u0947",
    ),  # a joiner inside stays
    (None, None),
]


@pytest.mark.parametrize(("typed", "expected"), TEXT_EXAMPLES)
def test_text_is_nfc_without_controls_or_anything_invisible_at_the_ends(
    typed: str | None, expected: str | None
) -> None:
    assert n.clean_text(typed) == expected


def test_a_name_has_single_spaces_and_composed_and_decomposed_spellings_are_one_name() -> None:
    assert n.clean_name("Acme \u00a0 Pty\t\tLtd") == "Acme Pty Ltd"
    assert n.clean_name("Cafe\u0301  Nero") == n.clean_name("Caf\u00e9 Nero") == "Caf\u00e9 Nero"
    assert n.clean_name("\u200b \u200b") is None


def test_emails_phones_and_abns_survive_invisible_characters_at_the_ends() -> None:
    assert n.email("\u200bsam@acme.com.au\ufeff") == "sam@acme.com.au"
    assert n.phone_e164("0412 345 678\u200b") == "+61412345678"
    assert n.abn("51 824 753 556\u200b") == "51824753556"
    assert n.fold_name("Ac\u200bme") == n.fold_name("Acme") == "acme"


@PROPERTY
@given(value=st.one_of(ANY_TEXT, NAME_LIKE, HOSTILE_TEXT))
def test_cleaned_text_has_no_control_and_nothing_invisible_at_its_ends(value) -> None:
    for result in (n.clean_text(value), n.clean_name(value)):
        if result is None:
            continue
        assert unicodedata.is_normalized("NFC", result)
        assert not any(unicodedata.category(c) == "Cc" for c in result)
        assert not result[0].isspace() and unicodedata.category(result[0]) != "Cf"
        assert not result[-1].isspace() and unicodedata.category(result[-1]) != "Cf"
    name = n.clean_name(value)
    assert name is None or ("  " not in name and not any(c.isspace() and c != " " for c in name))
