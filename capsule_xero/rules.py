"""The rules file (``capsule-xero.yaml``): what syncs, how fields are shaped, and who wins a conflict.

A consultant edits this file; ``capsule-xero.example.yaml`` at the repository root shows every option
with its default. ``load_rules`` reads it into ``Rules`` (pydantic models), and every problem becomes
one line of a ``RulesError`` that names the file, the line and the problem in plain words::

    capsule-xero.yaml line 14: sync.skip_if[0]: unknown condition "tags" (expected one of tag, type, owner, field)

Every section forbids keys it does not know, so a misspelt key is an error, never silently ignored.
The ``alerts:`` section says where alerts go (reverse_etl/alerts.py); it names environment variables
for secrets (a Slack webhook URL, an SMTP password) rather than holding them.

Nothing in here builds SQL: ``Rules.sql_params()`` hands plain values to the SQL models as bound
parameters (transform/sql/reconcile/README.md, "Rules parameters"), and ``transform/rules_sql.py`` compiles
``sync.only_if`` / ``sync.skip_if`` and ``transforms`` from fixed templates.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

if typing.TYPE_CHECKING:
    from capsule_xero.settings import Settings

DEFAULT_FILE_NAME = "capsule-xero.yaml"

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
# Xero's lengths for the text fields a transform writes (docs/api-facts.md#xero-contact-fields-and-limits, xero_accounting.yaml
# Contact maxLength). Website has no stated limit and is read-only in Xero: it gets Name's, the stricter
# choice. A contact group's Name has no stated limit either; it gets Contact Name's for the same reason.
XERO_TEXT_LIMITS = {"name": 255, "first_name": 255, "last_name": 255, "email_address": 255, "website": 255}
GROUP_NAME_LIMIT = 255
# An echoed value is cut to this many characters: an error names the value, never prints it whole.
SHOWN_CHARACTERS = 60

# The compared fields of the contact shape (transform/sql/reconcile/README.md), in its order.
COMPARED_FIELDS = (
    "contact_number",
    "name",
    "first_name",
    "last_name",
    "email_address",
    "tax_number",
    "website",
    "phone_default",
    "phone_mobile",
    "phone_fax",
    "street_address",
    "postal_address",
    "contact_persons",
    "contact_groups",
)
# Plain text fields a transform may change; the others have a canonical structure (E.164, JSON, ABN).
# Fields the tool compares but can never write (the API marks them read-only).
READ_ONLY_IN_XERO = ("website",)
TEXT_FIELDS = ("name", "first_name", "last_name", "email_address", "website")
# Ownership may name a group of fields at once.
FIELD_GROUPS = {
    "phones": ("phone_default", "phone_mobile", "phone_fax"),
    "addresses": ("street_address", "postal_address"),
}

PartyType = Literal["organisation", "person"]
Side = Literal["capsule", "xero"]
TransformOp = Literal["trim", "upper", "lower", "title", "truncate", "replace", "default", "prefix", "suffix"]
# Capsule tags the generated world's earlier sync kept as groups (sandbox/generator/CASES.md) and
# the common ones: a default that changes nothing for an account set up that way.
DEFAULT_GROUP_TAGS = ("Customer", "Supplier", "Wholesale", "VIP")


def _as_text(value: Any) -> Any:
    """YAML reads `30`, `true` and `2024-07-01` as numbers, booleans and dates; the rules mean the text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _one_or_many(value: Any) -> Any:
    """`tag: Staff` and `tag: [Staff, Family]` both read as a list."""
    value = _as_text(value)
    return [value] if isinstance(value, str) else value


def _not_blank(value: Any) -> Any:
    value = _as_text(value)
    if isinstance(value, str):
        value = value.strip()
        if not value:
            raise ValueError("must not be empty")
    return value


def _no_repeats(names: list[str]) -> list[str]:
    seen: set[str] = set()
    for name in names:
        if name.casefold() in seen:
            raise ValueError(f"{_show(name)} is listed twice")
        seen.add(name.casefold())
    return names


def _an_email(value: str) -> str:
    if "@" not in value:
        raise ValueError(
            f"{_show(value)} is not an e-mail address (owners are matched by their Capsule user's e-mail)"
        )
    return value


Text = Annotated[str, BeforeValidator(_as_text)]
Name = Annotated[str, BeforeValidator(_not_blank)]
Names = Annotated[list[Name], BeforeValidator(_one_or_many), Field(min_length=1), AfterValidator(_no_repeats)]
Emails = Annotated[
    list[Annotated[Name, AfterValidator(_an_email)]],
    BeforeValidator(_one_or_many),
    Field(min_length=1),
    AfterValidator(_no_repeats),
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    # What the error for an unknown key calls it ("key", "condition" ...), and an example of one.
    _unknown_word: ClassVar[str] = "key"
    _example: ClassVar[str] = "a section of key: value lines"

    @classmethod
    def expected_keys(cls, data: Any) -> list[str]:
        """The keys this section accepts (by their YAML names), for 'unknown key' errors."""
        return [info.alias or name for name, info in cls.model_fields.items()]

    @model_validator(mode="before")
    @classmethod
    def _empty_means_default(cls, data: Any) -> Any:
        """`sync:` with every line under it commented out is the default section, not an error."""
        if not isinstance(data, dict):
            return data
        fields = {info.alias or name: info for name, info in cls.model_fields.items()}
        return {
            key: value
            for key, value in data.items()
            if not (value is None and key in fields and fields[key].default is not None)
        }


class CapsuleRules(_Section):
    abn_field: Name = "ABN"
    xero_contact_id_field: Name = "Xero Contact ID"


def _no_outer_spaces(value: str) -> str:
    if value != value.strip():
        raise ValueError(f"{_show(value)} starts or ends with a space (Xero would not keep it)")
    return value


class XeroRules(_Section):
    contact_number_prefix: Annotated[
        Text, Field(min_length=1, max_length=MAX_CONTACT_NUMBER_PREFIX), AfterValidator(_no_outer_spaces)
    ] = "CAP-"


class Condition(_Section):
    """One condition of ``sync.only_if`` / ``sync.skip_if``: exactly one of tag, type, owner, field."""

    _unknown_word: ClassVar[str] = "condition"
    _example: ClassVar[str] = "a condition such as {tag: Staff} or {field: Industry, equals: Mining}"
    KINDS: ClassVar[tuple[str, ...]] = ("tag", "type", "owner", "field")
    FIELD_TESTS: ClassVar[tuple[str, ...]] = ("equals", "in", "present")

    tag: Names | None = None
    type: Annotated[list[PartyType], BeforeValidator(_one_or_many), Field(min_length=1)] | None = None
    owner: Emails | None = None
    field: Name | None = None
    equals: Text | None = None
    in_: Annotated[list[Text], BeforeValidator(_one_or_many), Field(min_length=1)] | None = Field(
        default=None, alias="in"
    )
    present: bool | None = None

    @classmethod
    def expected_keys(cls, data: Any) -> list[str]:
        if isinstance(data, dict) and "field" in data:
            return ["field", *cls.FIELD_TESTS]
        return list(cls.KINDS)

    @property
    def kind(self) -> str:
        return next(k for k in self.KINDS if getattr(self, k) is not None)

    @property
    def field_test(self) -> str:
        return next(t for t in self.FIELD_TESTS if getattr(self, "in_" if t == "in" else t) is not None)

    @model_validator(mode="before")
    @classmethod
    def _no_empty_values(cls, data: Any) -> Any:
        if isinstance(data, dict):
            empty = [str(k) for k, v in data.items() if v is None and k in (*cls.KINDS, *cls.FIELD_TESTS)]
            if empty:
                raise ValueError(f"{', '.join(empty)} has no value")
        return data

    @model_validator(mode="after")
    def _one_kind(self) -> Condition:
        kinds = [k for k in self.KINDS if getattr(self, k) is not None]
        tests = [t for t in self.FIELD_TESTS if getattr(self, "in_" if t == "in" else t) is not None]
        if len(kinds) != 1:
            raise ValueError(
                "a condition needs exactly one of tag, type, owner, field"
                + (f" (it has {', '.join(kinds)})" if kinds else "")
            )
        if kinds == ["field"] and len(tests) != 1:
            raise ValueError(
                f"field {_show(self.field)} needs exactly one of equals, in, present"
                + (f" (it has {', '.join(tests)})" if tests else "")
            )
        if kinds != ["field"] and tests:
            raise ValueError(f"{', '.join(tests)} only goes with field (this is a {kinds[0]} condition)")
        return self


class SyncRules(_Section):
    party_types: Annotated[list[PartyType], BeforeValidator(_one_or_many), Field(min_length=1)] = [
        "organisation",
        "person",
    ]
    people: Literal["contact_persons", "contacts"] = "contact_persons"
    only_if: Annotated[list[Condition], Field(max_length=MAX_CONDITIONS)] = []
    skip_if: Annotated[list[Condition], Field(max_length=MAX_CONDITIONS)] = []


class Transform(_Section):
    """One step of ``transforms``: ``op`` applied to ``field`` of the desired Xero contact."""

    _example: ClassVar[str] = "a transform such as {field: name, op: truncate, length: 255}"

    OP_PARAMS: ClassVar[dict[str, tuple[str, ...]]] = {
        "trim": (),
        "upper": (),
        "lower": (),
        "title": (),
        "truncate": ("length",),
        "replace": ("find", "with"),
        "default": ("value",),
        "prefix": ("value",),
        "suffix": ("value",),
    }

    field: str
    op: TransformOp
    length: int | None = None
    find: Text | None = None
    with_: Text | None = Field(default=None, alias="with")
    value: Text | None = None

    @model_validator(mode="after")
    def _fits_the_op(self) -> Transform:
        if self.field not in TEXT_FIELDS:
            if self.field in COMPARED_FIELDS:
                raise ValueError(
                    f"field {_show(self.field)} cannot be transformed (only the text fields {', '.join(TEXT_FIELDS)} can)"
                )
            raise ValueError(f"field {_show(self.field)} is not one of {', '.join(TEXT_FIELDS)}")
        wanted = self.OP_PARAMS[self.op]
        given = [p for p in ("length", "find", "with", "value") if self.param(p) is not None]
        extra = [p for p in given if p not in wanted]
        if extra:
            takes = f"takes {' and '.join(wanted)}" if wanted else "takes nothing but field"
            raise ValueError(f"{self.op} {takes}, not {', '.join(extra)}")
        limit = XERO_TEXT_LIMITS[self.field]
        if self.op == "truncate" and (self.length is None or self.length <= 0):
            raise ValueError(f"truncate needs a positive length (e.g. length: {limit})")
        if self.op == "truncate" and self.length is not None and self.length > limit:
            # Also what keeps the length a number DuckDB can bind (a BIGINT): 1e23 broke the reconcile.
            raise ValueError(
                f"truncate length must be from 1 to {limit} (Xero keeps at most {limit} characters of {self.field})"
            )
        for name in ("find", "with", "value"):
            text = self.param(name)
            if text is not None and len(text) > limit:
                raise ValueError(
                    f"{name} is {len(text):,} characters; Xero keeps at most {limit} in {self.field}"
                )
        if self.op == "replace" and not self.find:
            raise ValueError('replace needs the text to find (find: "...", with: "...")')
        if self.op in {"default", "prefix", "suffix"} and not self.value:
            raise ValueError(f'{self.op} needs a value (value: "...")')
        if self.field == "email_address" and self.op in {"upper", "lower", "title"}:
            raise ValueError(
                f"{self.op} has no effect on email_address: e-mail addresses are kept in lower case"
            )
        return self

    def param(self, name: str) -> Any:
        return getattr(self, "with_" if name == "with" else name)


def _list_or_all(value: Any) -> Any:
    if isinstance(value, str):
        if value.strip().lower() == "all":
            return "all"
        raise ValueError(f"{_show(value)} should be a list of tag names, or all")
    return value


class GroupRules(_Section):
    tags: Annotated[
        Literal["all"]
        | Annotated[
            list[Annotated[Name, Field(max_length=GROUP_NAME_LIMIT)]],
            Field(max_length=MAX_CONTACT_GROUPS),
            AfterValidator(_no_repeats),
        ],
        BeforeValidator(_list_or_all),
    ] = list(DEFAULT_GROUP_TAGS)
    owners: bool = True
    owner_group_prefix: Text = Field(default="Owner: ", max_length=50)


class OwnershipRules(_Section):
    """Which system owns each field once the contact exists: Capsule (default) or Xero."""

    contact_number: Literal["capsule"] | None = None
    name: Side | None = None
    first_name: Side | None = None
    last_name: Side | None = None
    email_address: Side | None = None
    tax_number: Side | None = None
    website: Side | None = None
    phone_default: Side | None = None
    phone_mobile: Side | None = None
    phone_fax: Side | None = None
    street_address: Side | None = None
    postal_address: Side | None = None
    contact_persons: Side | None = None
    contact_groups: Side | None = None
    phones: Side | None = None
    addresses: Side | None = None

    def owner_of(self, field: str) -> str:
        """The owning side of one compared field; a field named on its own beats its group."""
        own = getattr(self, field)
        if own is not None:
            return own
        group = next((g for g, fields in FIELD_GROUPS.items() if field in fields), None)
        return (getattr(self, group) if group else None) or "capsule"

    def xero_owned(self) -> list[str]:
        return [f for f in COMPARED_FIELDS if self.owner_of(f) == "xero"]


class ConflictRules(_Section):
    policy: Literal["newest_wins", "capsule_wins", "xero_wins", "manual"] = "newest_wins"
    name_collision: Literal["suffix", "link", "review"] = "review"
    archived_in_xero: Literal["leave", "restore"] = "leave"


class MatchingRules(_Section):
    min_confidence: float = Field(default=0.6, ge=0, le=1)


class ValidationRules(_Section):
    max_reject_share: float = Field(default=0.2, ge=0, le=1)


class ApprovalRules(_Section):
    max_operations: int = Field(default=100, ge=0)
    archives_need_approval: bool = True
    first_migration_needs_approval: bool = True


# An environment variable's name: secrets (a Slack webhook URL, an SMTP password) stay out of the
# rules file, which is meant to be shared and kept in version control.
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _an_env_name(value: str) -> str:
    if not ENV_NAME.fullmatch(value):
        raise ValueError(
            f"{_show(value)} is not the name of an environment variable (letters, digits and _, e.g. SLACK_WEBHOOK_URL);"
            " put the secret itself in the environment, not in this file"
        )
    return value


def _a_web_address(value: str) -> str:
    if not re.match(r"https?://[^/\s]+", value):
        raise ValueError(f"{_show(value)} is not a web address (http://... or https://...)")
    return value


def _a_mail_address(value: str) -> str:
    if "@" not in value:
        raise ValueError(f"{_show(value)} is not an e-mail address")
    return value


MailAddress = Annotated[Name, AfterValidator(_a_mail_address)]
MailAddresses = Annotated[
    list[MailAddress], BeforeValidator(_one_or_many), Field(min_length=1), AfterValidator(_no_repeats)
]
EnvName = Annotated[Name, AfterValidator(_an_env_name)]
WebAddress = Annotated[Name, AfterValidator(_a_web_address)]


class SlackChannel(_Section):
    """A Slack incoming webhook; its URL carries the token, so the file names the variable that holds it."""

    _example: ClassVar[str] = "a Slack channel such as {webhook_url_env: SLACK_WEBHOOK_URL}"

    webhook_url_env: EnvName

    @model_validator(mode="before")
    @classmethod
    def _no_url_in_the_file(cls, data: Any) -> Any:
        if isinstance(data, dict) and "webhook_url" in data:
            raise ValueError(
                "a Slack webhook URL carries its token, so it does not go in this file: put it in an"
                " environment variable and name that here (webhook_url_env: SLACK_WEBHOOK_URL)"
            )
        return data


class EmailChannel(_Section):
    _example: ClassVar[str] = (
        "an e-mail channel such as {smtp_host: smtp.example.com.au, from: sync@example.com.au, to: [ops@example.com.au]}"
    )

    smtp_host: Name
    smtp_port: int = Field(default=587, ge=1, le=65535)
    from_: MailAddress = Field(alias="from")
    to: MailAddresses
    starttls: bool = True
    username: Name | None = None
    password_env: EnvName | None = None

    @model_validator(mode="after")
    def _password_needs_a_user(self) -> EmailChannel:
        if self.password_env and not self.username:
            raise ValueError("password_env needs a username to log in with")
        return self


class WebhookChannel(_Section):
    """Any HTTP endpoint that takes a JSON POST; a URL with a token in it belongs in ``url_env``."""

    _example: ClassVar[str] = "a webhook such as {url: https://ops.example.com.au/hooks/capsule-xero}"

    url: WebAddress | None = None
    url_env: EnvName | None = None

    @model_validator(mode="after")
    def _one_address(self) -> WebhookChannel:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("a webhook needs exactly one of url, url_env")
        return self


class AlertChannel(_Section):
    """One entry of ``alerts.channels``: exactly one of slack, email, webhook."""

    _unknown_word: ClassVar[str] = "channel"
    _example: ClassVar[str] = "a channel such as {slack: {webhook_url_env: SLACK_WEBHOOK_URL}}"
    KINDS: ClassVar[tuple[str, ...]] = ("slack", "email", "webhook")

    slack: SlackChannel | None = None
    email: EmailChannel | None = None
    webhook: WebhookChannel | None = None

    @property
    def kind(self) -> str:
        return next(k for k in self.KINDS if getattr(self, k) is not None)

    @model_validator(mode="before")
    @classmethod
    def _no_empty_values(cls, data: Any) -> Any:
        if isinstance(data, dict):
            empty = [str(k) for k, v in data.items() if v is None and k in cls.KINDS]
            if empty:
                raise ValueError(f"{', '.join(empty)} has no settings")
        return data

    @model_validator(mode="after")
    def _one_kind(self) -> AlertChannel:
        kinds = [k for k in self.KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(
                "a channel needs exactly one of slack, email, webhook"
                + (f" (it has {', '.join(kinds)})" if kinds else "")
            )
        return self


class AlertRules(_Section):
    """Where alerts go (a person must act) and how early the refresh token's expiry is announced."""

    channels: list[AlertChannel] = []
    token_expiry_warning_days: int = Field(default=14, ge=1, le=60)


class Rules(_Section):
    """The whole rules file; ``Rules()`` is the defaults (what runs when there is no file)."""

    _unknown_word: ClassVar[str] = "section"

    version: Literal[1] = 1
    capsule: CapsuleRules = CapsuleRules()
    xero: XeroRules = XeroRules()
    sync: SyncRules = SyncRules()
    transforms: Annotated[list[Transform], Field(max_length=MAX_TRANSFORMS)] = []
    groups: GroupRules = GroupRules()
    ownership: OwnershipRules = OwnershipRules()
    conflicts: ConflictRules = ConflictRules()
    matching: MatchingRules = MatchingRules()
    validation: ValidationRules = ValidationRules()
    approval: ApprovalRules = ApprovalRules()
    alerts: AlertRules = AlertRules()

    def sql_params(self) -> dict[str, Any]:
        """The bound parameters of the SQL models (transform/sql/reconcile/README.md, "Rules parameters")."""
        all_tags = self.groups.tags == "all"
        return {
            "abn_field": self.capsule.abn_field,
            "xero_id_field": self.capsule.xero_contact_id_field,
            "contact_number_prefix": self.xero.contact_number_prefix,
            "min_confidence": self.matching.min_confidence,
            "people_as_contacts": self.sync.people == "contacts",
            "group_tags": [] if all_tags else list(self.groups.tags),
            "all_tags_are_groups": all_tags,
            "owner_groups": self.groups.owners,
            "owner_group_prefix": self.groups.owner_group_prefix,
            # Xero's Website is read-only through the API (xero_accounting.yaml, Contact.Website:
            # readOnly), so whatever Capsule says, Xero's value stands; comparing it would plan an update
            # that can never land.
            "xero_owned_fields": sorted({*self.ownership.xero_owned(), *READ_ONLY_IN_XERO}),
            "conflict_policy": self.conflicts.policy,
            "name_collision": self.conflicts.name_collision,
            "restore_archived_by_xero": self.conflicts.archived_in_xero == "restore",
        }

    def effective(self) -> dict[str, Any]:
        """Every setting with defaults filled in, by its YAML names."""
        return self.model_dump(mode="json", by_alias=True)

    def fingerprint(self) -> str:
        """A stable hash of the effective rules: a file that spells out the defaults equals no file.

        ``alerts`` is left out: where alerts go does not change what a plan writes, so editing it must
        not make a waiting plan stale.
        """
        effective = {k: v for k, v in self.effective().items() if k != "alerts"}
        text = json.dumps(effective, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()


class RulesError(ValueError):
    """The rules file has problems; ``problems`` holds one plain-words line per problem, by line."""

    SHOWN = 20  # a message (a Dagster run's error, a log line) lists the first ones and counts the rest

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = problems[: self.SHOWN]
        if len(problems) > self.SHOWN:
            shown = [*shown, f"… and {len(problems) - self.SHOWN:,} more problems"]
        super().__init__("\n".join(shown))


def find_rules_path(settings: Settings) -> Path | None:
    """``CAPSULE_XERO_CONFIG`` when set, else ``./capsule-xero.yaml`` when present, else None.

    ``Settings.from_env`` already resolves exactly that into ``settings.config_file``.
    """
    return settings.config_file


def load_rules(path: Path | None) -> Rules:
    """The rules in ``path``; defaults when ``path`` is None or is the default file and absent.

    A file named explicitly (``CAPSULE_XERO_CONFIG``) that does not exist is an error, not defaults.
    """
    if path is None:
        return Rules()
    path = Path(path)
    if not path.is_file():
        if path.name == DEFAULT_FILE_NAME and path.parent == Path() and not path.exists():
            return Rules()
        raise RulesError([f"{path}: no such rules file (set CAPSULE_XERO_CONFIG to the rules file's path)"])
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise RulesError([f"{path}: cannot be read ({error})"]) from error
    return parse_rules(text, str(path))


def parse_rules(text: str, source: str = DEFAULT_FILE_NAME) -> Rules:
    """The rules in ``text``; ``source`` names the file in error messages."""
    try:
        shape = _shape_problem(text)
        if shape is not None:
            raise RulesError([f"{source} line {shape[0]}: {shape[1]}"])
        loader = yaml.SafeLoader(text)
        try:
            root = loader.get_single_node()
            data = None if root is None else loader.construct_document(root)
        finally:
            loader.dispose()
    except yaml.YAMLError as error:
        raise RulesError([_yaml_problem(source, error)]) from error
    if root is None or data is None:
        return Rules()
    if not isinstance(data, dict):
        raise RulesError(
            [
                f"{source} line {root.start_mark.line + 1}: the file should be sections such as sync:, groups:, conflicts:"
            ]
        )
    problems: list[tuple[int, str]] = list(_duplicate_keys(root))
    try:
        rules = Rules.model_validate(data)
    except ValidationError as error:
        problems.extend(_pydantic_problems(error, root, data))
        rules = None
    if problems:
        problems.sort(key=lambda p: p[0])
        raise RulesError([f"{source} line {line}: {message}" for line, message in problems])
    assert rules is not None
    return rules


# --- what no rules file needs -----------------------------------------------------------------------


def _shape_problem(text: str) -> tuple[int, str] | None:
    """The line and the problem when ``text`` is larger, deeper or expands further than any rules need.

    Read as a stream of YAML events before anything is built: an alias (``*name``) stands for its
    whole anchor, so nine levels of ten aliases each are a billion values, which a walk over the
    document (or pydantic) would take hours to visit. Counting an anchor's size once and adding it
    at each alias finds that in one pass over the text.
    """
    if len(text) > MAX_FILE_CHARACTERS:
        line = text.count("\n", 0, MAX_FILE_CHARACTERS) + 1
        return line, (
            f"the file passes {MAX_FILE_CHARACTERS:,} characters here ({len(text):,} in all); a rules file"
            " needs a few thousand (the example with every option is under 10,000)"
        )
    anchor_sizes: dict[str, int] = {}
    open_collections: list[list[Any]] = []  # [values so far, anchor] per collection not yet closed
    total = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        line = event.start_mark.line + 1
        if isinstance(event, yaml.CollectionStartEvent):
            open_collections.append([1, event.anchor])
            if len(open_collections) > MAX_DEPTH:
                return line, f"nested more than {MAX_DEPTH} levels deep; no rule needs more than 6"
            total += 1
            continue
        if isinstance(event, yaml.CollectionEndEvent):
            size, anchor = open_collections.pop()
            if anchor is not None:
                anchor_sizes[anchor] = size
            if open_collections:
                open_collections[-1][0] += size
            continue
        if isinstance(event, yaml.ScalarEvent):
            if len(event.value) > MAX_TEXT:
                return line, (
                    f"a value of {len(event.value):,} characters; a value in a rules file holds at most {MAX_TEXT:,}"
                )
            size = 1
            if event.anchor is not None:
                anchor_sizes[event.anchor] = size
        elif isinstance(event, yaml.AliasEvent):
            if event.anchor not in anchor_sizes:
                name = _cut(event.anchor)
                if any(anchor == event.anchor for _, anchor in open_collections):
                    return (
                        line,
                        f"the alias *{name} is used inside its own anchor &{name} (a loop with no end)",
                    )
                continue  # an alias to nothing: the composer reports it with its line
            size = anchor_sizes[event.anchor]
        else:
            continue
        total += size
        if open_collections:
            open_collections[-1][0] += size
        if total > MAX_VALUES:
            return line, (
                f"more than {MAX_VALUES:,} values once the aliases (*name) are expanded; a rules file needs"
                " far fewer: write the values out instead of nesting anchors"
            )
    return None


# --- error messages ---------------------------------------------------------------------------------


def _yaml_problem(source: str, error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    where = f"line {mark.line + 1} column {mark.column + 1}" if mark else "somewhere"
    text = f"{problem} ({context})" if context else problem
    return f"{source} {where}: not valid YAML: {_cut(text, 100)}"


def _duplicate_keys(node: yaml.Node) -> Iterator[tuple[int, str]]:
    """YAML keeps the last of two equal keys silently; the rules file says so instead."""
    for path, child in _walk(node, ()):
        if not isinstance(child, yaml.MappingNode):
            continue
        first: dict[Any, int] = {}
        for key, _ in child.value:
            if not isinstance(key, yaml.ScalarNode):
                continue
            line = key.start_mark.line + 1
            if key.value in first:
                where = _path_text((*path, key.value))
                yield line, f"{where}: appears twice (first on line {first[key.value]}); keep one"
            else:
                first[key.value] = line


def _walk(node: yaml.Node, path: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], yaml.Node]]:
    yield path, node
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield from _walk(value, (*path, key.value if isinstance(key, yaml.ScalarNode) else "?"))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _walk(item, (*path, index))


def _node_at(root: yaml.Node, loc: tuple[Any, ...], key_node: bool = False) -> yaml.Node:
    """The deepest YAML node on ``loc``; with ``key_node`` the key of the last step (an unknown key)."""
    node = root
    for index, step in enumerate(loc):
        if isinstance(node, yaml.MappingNode):
            pair = next(
                (
                    (k, v)
                    for k, v in node.value
                    if isinstance(k, yaml.ScalarNode) and _same_key(k.value, step)
                ),
                None,
            )
            if pair is None:
                return node
            node = pair[0] if key_node and index == len(loc) - 1 else pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
            node = node.value[step]
        else:
            return node
    return node


def _same_key(yaml_key: str, step: Any) -> bool:
    if yaml_key == str(step):
        return True
    if isinstance(step, str):
        return False
    try:  # `yes:` is the key True to YAML
        return bool(yaml.safe_load(yaml_key) == step)
    except yaml.YAMLError:
        return False


def _data_loc(loc: tuple[Any, ...], data: Any) -> tuple[tuple[Any, ...], bool]:
    """``loc`` without pydantic's union-branch steps (``literal['all']``), and whether it had one."""
    kept: list[Any] = []
    branch = False
    for step in loc:
        if isinstance(data, dict):
            kept.append(step)
            data = data.get(step)
        elif isinstance(data, list) and isinstance(step, int):
            kept.append(step)
            data = data[step] if step < len(data) else None
        elif isinstance(step, str):
            branch = True
        else:
            kept.append(step)
            data = None
    return tuple(kept), branch


def _path_text(loc: tuple[Any, ...]) -> str:
    text = ""
    for step in loc:
        name = _cut(str(step))
        text += f"[{step}]" if isinstance(step, int) else (f".{name}" if text else name)
    return text or "(top)"


def _cut(text: str, limit: int = SHOWN_CHARACTERS) -> str:
    """``text``, or its start and how long it is: a 5 MB value must not reach the terminal whole."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"


def _show(value: Any) -> str:
    if isinstance(value, str):
        if len(value) > SHOWN_CHARACTERS:
            return f'"{value[:SHOWN_CHARACTERS]}…" ({len(value):,} characters)'
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return str(value)


_KIND_NAMES = {
    "string_type": "text",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "list_type": "a list",
    "dict_type": "a section of key: value lines",
    "model_type": "a section of key: value lines",
    "model_attributes_type": "a section of key: value lines",
}


def _section_at(loc: tuple[Any, ...]) -> type[_Section] | None:
    """The section model a location points into (for the keys it accepts)."""
    model: type[_Section] | None = Rules
    for step in loc:
        if isinstance(step, int):
            continue
        if model is None:
            return None
        info = next((i for n, i in model.model_fields.items() if (i.alias or n) == step), None)
        if info is None:
            return None
        model = _model_in(info.annotation)
    return model


def _model_in(annotation: Any) -> type[_Section] | None:
    if isinstance(annotation, type) and issubclass(annotation, _Section):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _model_in(typing.get_args(annotation)[0])
    if origin in {list, typing.Union, types.UnionType}:
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found:
                return found
    return None


def _value_at(data: Any, loc: tuple[Any, ...]) -> Any:
    for step in loc:
        if (isinstance(data, dict) and step in data) or (
            isinstance(data, list) and isinstance(step, int) and step < len(data)
        ):
            data = data[step]
        else:
            return None
    return data


def _pydantic_problems(error: ValidationError, root: yaml.Node, data: Any) -> Iterator[tuple[int, str]]:
    seen: set[tuple[tuple[Any, ...], str]] = set()
    for item in error.errors(include_url=False):
        loc, branch = _data_loc(tuple(item["loc"]), data)
        kind = item["type"]
        if branch and kind == "literal_error" and not isinstance(item.get("input"), str):
            continue  # the other branch of the union (e.g. a list of tags rather than "all") explains it
        if kind == "extra_forbidden":
            parent = loc[:-1]
            section = _section_at(parent)
            word = section._unknown_word if section else "key"
            expected = section.expected_keys(_value_at(data, parent)) if section else []
            message = f"unknown {word} {_show(str(loc[-1]))}" + (
                f" (expected one of {', '.join(expected)})" if expected else ""
            )
            where, line_node = parent, _node_at(root, loc, key_node=True)
        elif kind == "too_long" and isinstance(item.get("input"), list):
            # Point at the first entry past the limit: the line where the list became too long.
            limit = (item.get("ctx") or {}).get("max_length", 0)
            where, line_node = loc, _node_at(root, (*loc, limit))
            entries, why = _LIST_LIMITS.get(str(loc[-1]) if loc else "", ("entries", ""))
            message = f"has {len(item['input']):,} {entries}; at most {limit:,}{why}"
        else:
            where, line_node = loc, _node_at(root, loc)
            message = _SPECIAL.get((loc, kind)) or _message(item)
            if kind in {"model_type", "model_attributes_type", "dict_type"}:
                section = _section_at(loc)
                message = f"should be {section._example if section else 'a section'}, not {_show(item.get('input'))}"
        if (where, message) in seen:
            continue
        seen.add((where, message))
        yield line_node.start_mark.line + 1, (f"{_path_text(where)}: {message}" if where else message)


# The lists with a length limit: what their entries are called, and why the limit.
_LIST_LIMITS = {
    "transforms": (
        "transforms",
        " (each is one step of a single SQL query, and the query can nest only so many)",
    ),
    "only_if": ("conditions", ""),
    "skip_if": ("conditions", ""),
    "tags": ("tags", f" (Xero keeps at most {MAX_CONTACT_GROUPS} contact groups per organisation)"),
}

_SPECIAL = {
    (("version",), "literal_error"): "this tool reads rules files of version 1",
    (("ownership", "contact_number"), "literal_error"): (
        "cannot be owned by Xero: the ContactNumber is how this tool finds the contacts it made"
    ),
    **{
        (("xero", "contact_number_prefix"), kind): (
            f"is longer than {MAX_CONTACT_NUMBER_PREFIX} characters, so prefix + Capsule id could pass"
            f" Xero's {CONTACT_NUMBER_LIMIT}-character limit on ContactNumber"
        )
        for kind in ("string_too_long", "too_long")
    },
}


def _message(item: Any) -> str:
    kind, value, ctx = item["type"], item.get("input"), item.get("ctx") or {}
    if kind == "literal_error":
        expected = re.sub(r"'([^']*)'", r"\1", ctx.get("expected", "")).replace(" or ", ", ")
        return f"{_show(value)} is not one of {expected}"
    if kind == "missing":
        return "is missing"
    if kind in _KIND_NAMES:
        return f"should be {_KIND_NAMES[kind]}, not {_show(value)}"
    if kind == "value_error":
        return str(ctx.get("error", item["msg"]))
    if kind in {"string_too_long", "too_long"}:
        return f"{_show(value)} is longer than {ctx['max_length']} characters"
    if kind in {"too_short", "string_too_short"}:
        return "must not be empty"
    message = item["msg"].replace("Input should", "should")
    return f"{message} (not {_show(value)})" if value is not None and not isinstance(value, dict) else message
