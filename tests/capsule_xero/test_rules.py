"""The rules file: defaults, the example a consultant copies, and errors that name the line and the problem."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import yaml

from capsule_xero.rules.alerts import EmailChannel, SlackChannel, WebhookChannel
from capsule_xero.rules.loading import RulesError, find_rules_path, load_rules, parse_rules
from capsule_xero.rules.model import Rules
from capsule_xero.rules.transforms import Transform
from capsule_xero.settings import Settings

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "capsule-xero.example.yaml"


def problems(text: str) -> list[str]:
    with pytest.raises(RulesError) as caught:
        parse_rules(text)
    return caught.value.problems


def line_of(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), start=1) if fragment in line)


# --- defaults and where the file comes from ------------------------------------------------------------


def test_without_a_rules_file_every_setting_has_its_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    rules = load_rules(None)
    assert rules == Rules()
    assert load_rules(Path("capsule-xero.yaml")) == rules
    assert rules.sync.party_types == ["organisation", "person"]
    assert rules.sync.skip_if == [] and rules.sync.only_if == [] and rules.transforms == []
    assert rules.conflicts.policy == "newest_wins"
    assert rules.conflicts.name_collision == "review"
    assert rules.validation.max_reject_share == 0.2
    assert (rules.approval.max_operations, rules.approval.archives_need_approval) == (100, True)
    assert rules.approval.first_migration_needs_approval is True


def test_an_empty_file_or_an_empty_section_means_the_defaults() -> None:
    assert parse_rules("") == Rules()
    assert parse_rules("# nothing yet\n") == Rules()
    assert parse_rules("sync:\n  # only_if: []\nconflicts:\n") == Rules()


def test_a_rules_file_named_explicitly_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match=r"no such rules file"):
        load_rules(tmp_path / "rules.yaml")


def test_the_rules_file_is_capsule_xero_config_else_capsule_xero_yaml_when_present(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert find_rules_path(Settings.from_env({})) is None
    Path("capsule-xero.yaml").write_text("version: 1\n")
    assert find_rules_path(Settings.from_env({})) == Path("capsule-xero.yaml")
    chosen = tmp_path / "elsewhere.yaml"
    assert find_rules_path(Settings.from_env({"CAPSULE_XERO_CONFIG": str(chosen)})) == chosen


def test_a_file_is_read_from_disk_and_its_errors_name_that_file(tmp_path: Path) -> None:
    path = tmp_path / "client-rules.yaml"
    path.write_text("conflicts:\n  policy: capsule_wins\n")
    assert load_rules(path).conflicts.policy == "capsule_wins"
    path.write_text("conflicts:\n  policy: capsule\n")
    with pytest.raises(RulesError) as caught:
        load_rules(path)
    assert str(caught.value).startswith(f"{path} line 2: conflicts.policy:")


# --- the example file --------------------------------------------------------------------------------


def test_the_example_file_loads_and_differs_from_the_defaults_only_by_skipping_staff() -> None:
    example = load_rules(EXAMPLE)
    assert [c.tag for c in example.sync.skip_if] == [["Staff"]]
    without_staff_rule = example.model_copy(update={"sync": example.sync.model_copy(update={"skip_if": []})})
    assert without_staff_rule == Rules()


def test_the_example_file_shows_every_option() -> None:
    shown = yaml.safe_load(EXAMPLE.read_text())
    for section, value in Rules().effective().items():
        assert section in shown, section
        if isinstance(value, dict) and section != "ownership":
            assert set(shown[section]) == set(value), section
    commented = EXAMPLE.read_text()
    for field in Rules().effective()["ownership"]:
        assert re.search(rf"\b{field}\b", commented), field
    for op in Transform.OP_PARAMS:
        assert re.search(rf"op: {op}\b", commented), op
    for kind in ("tag", "type", "owner", "field", "equals", "in", "present"):
        assert re.search(rf"\b{kind}: ", commented), kind


def test_the_error_shown_in_the_example_files_header_is_what_that_mistake_gives() -> None:
    text = EXAMPLE.read_text()
    shown = re.search(r"#   (capsule-xero\.yaml line \d+: conflicts\.policy: .*)", text)
    assert shown
    broken = text.replace("  policy: newest_wins", "  policy: newest")
    assert problems(broken) == [shown.group(1)]


# --- what the settings mean --------------------------------------------------------------------------


def test_sql_params_are_exactly_the_rules_parameters_the_reconcile_contract_names() -> None:
    readme = (REPO / "transform" / "sql" / "reconcile" / "README.md").read_text()
    section = readme.split("## Rules parameters", 1)[1].split("\n## ", 1)[0]
    names = set(re.findall(r"`([a-z_]+)`", section)) - {
        "newest_wins", "capsule_wins", "xero_wins", "manual", "suffix", "link", "review",
    }  # fmt: skip
    assert set(Rules().sql_params()) == names


def test_sql_params_carry_the_files_settings() -> None:
    rules = parse_rules(
        """
capsule: {abn_field: Company ABN, xero_contact_id_field: Xero ID}
xero: {contact_number_prefix: "SCT-"}
sync: {people: contacts}
groups: {tags: all, owners: false, owner_group_prefix: "Rep: "}
ownership: {phones: xero, phone_mobile: capsule, postal_address: xero}
conflicts: {policy: manual, name_collision: suffix, archived_in_xero: restore}
matching: {min_confidence: 0.75}
"""
    )
    assert rules.sql_params() == {
        "abn_field": "Company ABN",
        "xero_id_field": "Xero ID",
        "contact_number_prefix": "SCT-",
        "min_confidence": 0.75,
        "people_as_contacts": True,
        "group_tags": [],
        "all_tags_are_groups": True,
        "owner_groups": False,
        "owner_group_prefix": "Rep: ",
        # website is always Xero's: the API cannot write it.
        "xero_owned_fields": ["phone_default", "phone_fax", "postal_address", "website"],
        "conflict_policy": "manual",
        "name_collision": "suffix",
        "restore_archived_by_xero": True,
        # sync.direction capsule_to_xero (the default): nothing flows Xero → Capsule.
        "two_way": False,
        "pulled_fields": [],
        "both_owned_fields": [],
        "create_in_capsule": "none",
        "archived_tag": "Archived in Xero",
    }


def test_group_tags_are_the_listed_tags_and_all_is_accepted_in_any_case() -> None:
    assert parse_rules("groups: {tags: [Trade Account, VIP]}").sql_params()["group_tags"] == [
        "Trade Account",
        "VIP",
    ]
    assert parse_rules("groups: {tags: []}").sql_params()["group_tags"] == []
    assert parse_rules("groups: {tags: All}").sql_params()["all_tags_are_groups"] is True


def test_values_yaml_reads_as_numbers_booleans_or_dates_are_compared_as_text() -> None:
    rules = parse_rules(
        """
sync:
  only_if:
    - {field: Payment Terms (days), equals: 30}
    - {field: GST Registered, equals: yes}
    - {field: Customer Since, in: [2024-07-01]}
    - tag: 2024
"""
    )
    equals = [c.equals for c in rules.sync.only_if[:2]]
    assert equals == ["30", "true"]
    assert rules.sync.only_if[2].in_ == ["2024-07-01"]
    assert rules.sync.only_if[3].tag == ["2024"]


def test_the_fingerprint_is_the_same_for_the_same_effective_rules_and_changes_with_any_setting() -> None:
    spelled_out = yaml.safe_dump(Rules().effective(), sort_keys=False)
    assert parse_rules(spelled_out).fingerprint() == Rules().fingerprint()
    assert parse_rules("matching: {min_confidence: 0.6}\nconflicts: {policy: newest_wins}").fingerprint() == (
        parse_rules("conflicts: {policy: newest_wins}\nmatching: {min_confidence: 0.6}").fingerprint()
    )
    changed = {
        parse_rules("matching: {min_confidence: 0.7}").fingerprint(),
        parse_rules("sync: {skip_if: [{tag: Staff}]}").fingerprint(),
        parse_rules("approval: {max_operations: 50}").fingerprint(),
        parse_rules("transforms: [{field: name, op: trim}]").fingerprint(),
    }
    assert Rules().fingerprint() not in changed and len(changed) == 4


# --- errors name the line and the problem ------------------------------------------------------------


def test_a_misspelt_condition_names_its_line_and_the_conditions_there_are() -> None:
    text = "version: 1\nsync:\n  skip_if:\n    - tag: Staff\n    - tags: Family\n"
    assert problems(text) == [
        'capsule-xero.yaml line 5: sync.skip_if[1]: unknown condition "tags" (expected one of tag, type, owner, field)'
    ]


def test_a_policy_that_does_not_exist_names_the_choices() -> None:
    text = "conflicts:\n  name_collision: link\n  policy: newest\n"
    assert problems(text) == [
        'capsule-xero.yaml line 3: conflicts.policy: "newest" is not one of newest_wins, capsule_wins, xero_wins, manual'
    ]


def test_every_problem_is_reported_at_once_in_line_order() -> None:
    text = """version: 1
sync:
  party_types: [organisation, people]
  only_if:
    - {field: Industry, equal: Mining}
    - {owner: Mia Nguyen}
transforms:
  - {field: name, op: truncate, length: 255}
  - {field: phone_mobile, op: upper}
  - {field: name, op: truncate}
groups:
  tags: [Customer, "  ", VIP]
ownership:
  contact_number: xero
  phone: xero
xero:
  contact_number_prefix: "SOUTHERN-CROSS-TRADE-SUPPLIES-PTY-"
alert:
  email: ops@example.com
"""
    found = problems(text)
    assert [int(re.match(r"capsule-xero\.yaml line (\d+):", p).group(1)) for p in found] == [
        line_of(text, "people]"),
        line_of(text, "equal: Mining"),
        line_of(text, "Mia Nguyen"),
        line_of(text, "phone_mobile"),
        line_of(text, "op: truncate}"),
        line_of(text, '"  "'),
        line_of(text, "contact_number: xero"),
        line_of(text, "phone: xero"),
        line_of(text, "SOUTHERN"),
        line_of(text, "alert:"),
    ]
    joined = "\n".join(found)
    assert 'sync.party_types[1]: "people" is not one of organisation, person' in joined
    assert 'unknown condition "equal" (expected one of field, equals, in, present)' in joined
    assert '"Mia Nguyen" is not an e-mail address' in joined
    assert 'transforms[1]: field "phone_mobile" cannot be transformed' in joined
    assert "transforms[2]: truncate needs a positive length" in joined
    assert "groups.tags[1]: must not be empty" in joined
    assert "ownership.contact_number: cannot be owned by Xero" in joined
    assert 'ownership: unknown key "phone" (expected one of' in joined
    assert "xero.contact_number_prefix: is longer than 30 characters" in joined
    assert 'unknown section "alert" (expected one of version, capsule, xero, sync' in joined


def test_a_yaml_syntax_error_gives_the_line_and_column() -> None:
    (problem,) = problems("sync:\n  skip_if: [{tag: Staff}\ngroups: {}\n")
    assert re.match(r"capsule-xero\.yaml line 3 column \d+: not valid YAML: ", problem)


def test_a_key_written_twice_is_an_error_instead_of_the_last_silently_winning() -> None:
    assert problems("conflicts:\n  policy: xero_wins\n  policy: capsule_wins\n") == [
        "capsule-xero.yaml line 3: conflicts.policy: appears twice (first on line 2); keep one"
    ]


def test_a_condition_with_two_kinds_or_a_field_without_a_test_is_refused() -> None:
    assert problems("sync:\n  skip_if:\n    - {tag: Staff, type: person}\n") == [
        "capsule-xero.yaml line 3: sync.skip_if[0]: a condition needs exactly one of tag, type, owner, field"
        " (it has tag, type)"
    ]
    assert problems("sync:\n  skip_if:\n    - field: Industry\n") == [
        'capsule-xero.yaml line 3: sync.skip_if[0]: field "Industry" needs exactly one of equals, in, present'
    ]
    assert problems("sync:\n  skip_if:\n    - {tag: Staff, equals: x}\n") == [
        "capsule-xero.yaml line 3: sync.skip_if[0]: equals only goes with field (this is a tag condition)"
    ]
    assert problems("sync:\n  skip_if:\n    - Staff\n") == [
        "capsule-xero.yaml line 3: sync.skip_if[0]: should be a condition such as {tag: Staff} or"
        ' {field: Industry, equals: Mining}, not "Staff"'
    ]


def test_transform_steps_must_fit_their_operation() -> None:
    def first(step: str) -> str:
        return problems(f"transforms:\n  - {step}\n")[0].split(": ", 2)[2]

    assert (
        first("{field: name, op: truncate, length: 0}")
        == "truncate needs a positive length (e.g. length: 255)"
    )
    assert first("{field: name, op: trim, length: 3}") == "trim takes nothing but field, not length"
    assert (
        first("{field: name, op: replace, with: x}")
        == 'replace needs the text to find (find: "...", with: "...")'
    )
    assert first("{field: name, op: suffix}") == 'suffix needs a value (value: "...")'
    assert first("{field: nmae, op: trim}").startswith('field "nmae" is not one of name, first_name')
    assert first("{field: email_address, op: upper}").startswith("upper has no effect on email_address")
    assert first("{field: contact_groups, op: lower}").startswith(
        'field "contact_groups" cannot be transformed'
    )
    assert first("{field: name, op: shout}").startswith('"shout" is not one of trim, upper, lower, title')


def test_bad_types_and_ranges_say_what_was_expected() -> None:
    assert problems("groups:\n  owners: maybe\n") == [
        'capsule-xero.yaml line 2: groups.owners: should be true or false, not "maybe"'
    ]
    assert problems("approval:\n  max_operations: lots\n") == [
        'capsule-xero.yaml line 2: approval.max_operations: should be a whole number, not "lots"'
    ]
    assert problems("matching:\n  min_confidence: 1.5\n") == [
        "capsule-xero.yaml line 2: matching.min_confidence: should be less than or equal to 1 (not 1.5)"
    ]
    assert problems("groups:\n  tags: Customer\n") == [
        'capsule-xero.yaml line 2: groups.tags: "Customer" should be a list of tag names, or all'
    ]
    assert problems("groups:\n  tags: [VIP, vip]\n") == [
        'capsule-xero.yaml line 2: groups.tags: "vip" is listed twice'
    ]
    assert problems("version: 2\n") == [
        "capsule-xero.yaml line 1: version: this tool reads rules files of version 1"
    ]
    assert problems("- sync\n") == [
        "capsule-xero.yaml line 1: the file should be sections such as sync:, groups:, conflicts:"
    ]


# --- alerts --------------------------------------------------------------------------------------------


def test_the_example_files_commented_alert_channels_are_valid_channels() -> None:
    text = EXAMPLE.read_text()
    block = text.split("alerts:\n", 1)[1].split("  # For example:\n", 1)[1].split("  # Alert this", 1)[0]
    channels = "\n".join(line.replace("  #", "  ", 1) for line in block.splitlines())
    rules = parse_rules(f"alerts:\n  channels:\n{channels}\n")
    assert [c.kind for c in rules.alerts.channels] == ["slack", "email", "webhook", "webhook"]
    shown = set(re.findall(r"^\s+#\s+([a-z_]+):", block, re.M))
    for model in (SlackChannel, EmailChannel, WebhookChannel):
        for name, info in model.model_fields.items():
            assert (info.alias or name) in shown, name


def test_alert_channels_read_from_the_file_with_their_defaults() -> None:
    rules = parse_rules(
        """
alerts:
  channels:
    - slack: {webhook_url_env: SLACK_WEBHOOK_URL}
    - email: {smtp_host: mail.example.com.au, from: sync@example.com.au, to: ops@example.com.au}
  token_expiry_warning_days: 7
"""
    )
    slack, email = rules.alerts.channels
    assert slack.slack is not None and slack.slack.webhook_url_env == "SLACK_WEBHOOK_URL"
    assert email.email is not None
    assert (email.email.smtp_port, email.email.starttls, email.email.to) == (
        587,
        True,
        ["ops@example.com.au"],
    )
    assert rules.alerts.token_expiry_warning_days == 7
    assert Rules().alerts.channels == [] and Rules().alerts.token_expiry_warning_days == 14


def test_a_secret_written_into_the_alerts_section_is_refused_with_the_way_to_pass_it() -> None:
    assert problems(
        "alerts:\n  channels:\n    - slack: {webhook_url: https://hooks.slack.com/services/T/B/x}\n"
    ) == [
        "capsule-xero.yaml line 3: alerts.channels[0].slack: a Slack webhook URL carries its token, so it does"
        " not go in this file: put it in an environment variable and name that here"
        " (webhook_url_env: SLACK_WEBHOOK_URL)"
    ]
    (problem,) = problems(
        "alerts:\n  channels:\n    - email: {smtp_host: h, from: a@b.au, to: c@d.au, username: a,"
        " password_env: hunter2!}\n"
    )
    assert (
        'alerts.channels[0].email.password_env: "hunter2!" is not the name of an environment variable'
        in problem
    )


def test_alert_channel_mistakes_name_their_line() -> None:
    text = """alerts:
  channels:
    - {slack: {webhook_url_env: A}, webhook: {url: "http://x.au"}}
    - sms: {to: "0400000000"}
    - webhook: {}
    - email: {smtp_host: h, from: a@b.au, to: [ops], password_env: PW}
  token_expiry_warning_days: 0
"""
    assert problems(text) == [
        "capsule-xero.yaml line 3: alerts.channels[0]: a channel needs exactly one of slack, email, webhook"
        " (it has slack, webhook)",
        'capsule-xero.yaml line 4: alerts.channels[1]: unknown channel "sms" (expected one of slack, email, webhook)',
        "capsule-xero.yaml line 5: alerts.channels[2].webhook: a webhook needs exactly one of url, url_env",
        'capsule-xero.yaml line 6: alerts.channels[3].email.to[0]: "ops" is not an e-mail address',
        "capsule-xero.yaml line 7: alerts.token_expiry_warning_days: should be greater than or equal to 1 (not 0)",
    ]
    assert problems(
        "alerts:\n  channels:\n    - email: {smtp_host: h, from: a@b.au, to: c@d.au, password_env: PW}\n"
    ) == ["capsule-xero.yaml line 3: alerts.channels[0].email: password_env needs a username to log in with"]


def test_where_alerts_go_does_not_change_the_fingerprint_so_a_waiting_plan_stays_current() -> None:
    assert parse_rules(
        "alerts: {channels: [{webhook: {url: 'https://ops.example.com.au/x'}}]}"
    ).fingerprint() == (Rules().fingerprint())


# --- hostile files: alias bombs, sizes DuckDB or Xero cannot take, huge values (issue 11) --------------


def _nested_anchors(levels: int) -> str:
    """The 'billion laughs' shape: each level lists the one before it ten times."""
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for level in range(1, levels + 1):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + "\n"


@pytest.mark.timeout(60)
def test_nested_yaml_anchors_are_refused_at_once_with_the_line_where_they_blow_up() -> None:
    text = _nested_anchors(9)
    assert len(text.encode()) < 600  # the size of the file that hung `sync`
    started = time.perf_counter()
    found = problems(text)
    assert time.perf_counter() - started < 2
    # a4 is the first level whose expansion passes the limit (11,111 values per alias of a3).
    assert found == [
        f"capsule-xero.yaml line {line_of(text, 'a4:')}: more than 20,000 values once the aliases (*name)"
        " are expanded; a rules file needs far fewer: write the values out instead of nesting anchors"
    ]


def test_an_anchor_used_inside_itself_is_refused_with_its_line_not_a_crash() -> None:
    text = "sync:\n  skip_if: &loop\n    - tag: Staff\n    - *loop\n"
    assert problems(text) == [
        "capsule-xero.yaml line 4: the alias *loop is used inside its own anchor &loop (a loop with no end)"
    ]


def test_a_rules_file_nested_deeper_than_any_rule_needs_is_refused_not_a_crash() -> None:
    text = "sync:\n  only_if: " + "[" * 5000 + "]" * 5000 + "\n"
    (problem,) = problems(text)
    assert problem.startswith("capsule-xero.yaml line 2: nested more than 20 levels deep")


def test_a_rules_file_far_larger_than_any_rules_need_is_refused_before_it_is_parsed() -> None:
    text = "# a note\n" * 12_000
    (problem,) = problems(text)
    assert problem.startswith("capsule-xero.yaml line 11112: the file passes 100,000 characters here")


def test_a_truncate_length_past_xeros_limit_for_the_field_is_refused_with_its_line() -> None:
    text = "transforms:\n  - {field: name, op: trim}\n  - {field: name, op: truncate, length: 100000000000000000000000}\n"
    assert problems(text) == [
        "capsule-xero.yaml line 3: transforms[1]: truncate length must be from 1 to 255"
        " (Xero keeps at most 255 characters of name)"
    ]


def test_more_transforms_than_one_reconcile_query_can_nest_are_refused_at_the_first_one_too_many() -> None:
    text = "transforms:\n" + "  - {field: name, op: trim}\n" * 3000
    assert problems(text) == [
        "capsule-xero.yaml line 102: transforms: has 3,000 transforms; at most 100 (each is one step of"
        " a single SQL query, and the query can nest only so many)"
    ]


def test_more_conditions_than_the_scope_query_handles_well_are_refused_with_the_line() -> None:
    text = "sync:\n  skip_if:\n" + "".join(f"    - {{field: F{n}, equals: v}}\n" for n in range(150))
    assert problems(text) == ["capsule-xero.yaml line 103: sync.skip_if: has 150 conditions; at most 100"]


def test_more_group_tags_than_xero_keeps_groups_are_refused() -> None:
    text = "groups:\n  tags:\n" + "".join(f"    - Tag {n}\n" for n in range(120))
    assert problems(text) == [
        "capsule-xero.yaml line 103: groups.tags: has 120 tags; at most 100"
        " (Xero keeps at most 100 contact groups per organisation)"
    ]


@pytest.mark.parametrize(
    ("transform", "limit"),
    [
        ("{field: name, op: suffix, value: VALUE}", 255),
        ("{field: first_name, op: prefix, value: VALUE}", 255),
        ("{field: email_address, op: default, value: VALUE}", 255),
        ("{field: last_name, op: replace, find: x, with: VALUE}", 255),
    ],
)
def test_a_transform_value_longer_than_xero_keeps_in_its_field_is_refused(transform: str, limit: int) -> None:
    long_value = "y" * (limit + 1)
    (problem,) = problems(f"transforms:\n  - {transform.replace('VALUE', long_value)}\n")
    assert problem.startswith("capsule-xero.yaml line 2: transforms[0]: ")
    assert f"is {limit + 1:,} characters; Xero keeps at most {limit}" in problem
    assert long_value not in problem


def test_a_group_tag_longer_than_a_contact_group_name_is_refused() -> None:
    (problem,) = problems(f"groups:\n  tags: [Customer, {'T' * 300}]\n")
    assert problem.startswith("capsule-xero.yaml line 2: groups.tags[1]: ")
    assert "longer than 255 characters" in problem


def test_no_value_in_a_rules_file_may_pass_a_thousand_characters() -> None:
    text = f"sync:\n  skip_if:\n    - {{field: Industry, equals: {'m' * 1001}}}\n"
    assert problems(text) == [
        "capsule-xero.yaml line 3: a value of 1,001 characters; a value in a rules file holds at most 1,000"
    ]


@pytest.mark.parametrize(
    "text",
    [
        "transforms:\n  - {field: name, op: suffix, value: HUGE}\n",
        "conflicts:\n  policy: HUGE\n",
        "xero:\n  contact_number_prefix: HUGE\n",
        "sync:\n  skip_if:\n    - owner: HUGE\n",
        "alerts:\n  channels:\n    - webhook: {url: HUGE}\n",
        "HUGE: 1\n",
        "sync:\n  HUGE: 1\n",
        "groups:\n  tags: HUGE\n",
    ],
)
def test_an_error_never_echoes_a_long_value_whole(text: str) -> None:
    huge = "Z" * 900  # within the per-value limit, so each message is about the value itself
    for problem in problems(text.replace("HUGE", huge)):
        assert len(problem) < 400, problem
        assert "Z" * 100 not in problem
