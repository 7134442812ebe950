"""Alert sensors: tell a person only when a person must act (reverse_etl/alerts.py says what that is).

``alerts_sensor`` looks every few minutes for dead-lettered records, a plan waiting for approval,
a refresh token near expiry and Xero's daily call budget used up (capsule_xero/xero/budget.py);
``alert_on_failed_run`` reports a run that failed after its retries (the jobs' run retries,
assets/jobs.py): a failed attempt that Dagster retries is nobody's business yet (what each alert
means and what to do: docs/operations.md#alerts-what-each-means-and-what-to-do).
Both send to the channels in the rules file's ``alerts:`` section and never repeat an alert
within a day. Transient retries never reach them: those succeed or end as a failed run.

With tenants (assets/tenancy.py) each client is checked with its own settings (its DuckDB file, its
rules file's channels), and every alert's first line names the client it is about.
"""

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import replace
from datetime import UTC, datetime

import dagster as dg
import duckdb

from assets.tenancy import run_tenant, settings_for_run, settings_of_tenant
from capsule_xero.home_lock import HomeBusy, home_lock
from capsule_xero.rules.loading import RulesError, load_rules
from capsule_xero.settings import Settings, SettingsError
from capsule_xero.tenants import TenantsError
from reverse_etl.alerts.delivery import Delivery, SentLog, check_and_send, send
from reverse_etl.alerts.finding import Alert, find_alerts, run_failed

ALERT_CHECK_SECONDS = 300
# Set by Dagster on a failed run when run retries are on: "true" while another attempt follows.
WILL_RETRY_TAG = "dagster/will_retry"


def _read_only(settings: Settings) -> duckdb.DuckDBPyConnection | None:
    # A run holding the DuckDB file must not silence the token check: without the file, only it runs.
    if not settings.duckdb_path.exists():
        return None
    try:
        return duckdb.connect(str(settings.duckdb_path), read_only=True)
    except duckdb.Error:
        return None


def for_tenant(alert: Alert, tenant: str) -> Alert:
    """The alert with its client named in its first line, and the fix run for that client."""
    if not tenant:
        return alert
    return replace(
        alert,
        title=f"{tenant}: {alert.title}",
        detail=f"Client {tenant}: {alert.detail}",
        fix_command=alert.fix_command.replace("`capsule-xero ", f"`capsule-xero --tenant {tenant} "),
        key=f"{tenant}:{alert.dedupe_key}",
    )


def check_home(settings: Settings, tenant: str = "") -> tuple[list[Delivery], str]:
    """Find and send what needs a person in one home; the deliveries, or why nothing was looked for."""
    try:
        rules = load_rules(settings.config_file)
    except RulesError as exc:
        return [], f"The rules file has problems: {exc.problems[0]}"
    if not rules.alerts.channels:
        return [], "No alert channels in the rules file (alerts.channels): nothing to send to."

    def found_and_sent(con: duckdb.DuckDBPyConnection | None) -> list[Delivery]:
        if not tenant:
            return check_and_send(con, settings, rules)
        now = datetime.now(UTC)
        alerts = [for_tenant(alert, tenant) for alert in find_alerts(con, settings, rules, now)]
        return send(alerts, rules.alerts.channels, sent_log=SentLog.in_home(settings.home), now=now)

    try:
        # Read only while no run holds the home: an open read-only handle stops a sync from writing.
        with (
            home_lock(settings.home, shared=True, wait=0) if settings.duckdb_path.exists() else nullcontext()
        ):
            con = _read_only(settings)
            try:
                return found_and_sent(con), ""
            finally:
                if con is not None:
                    con.close()
    except HomeBusy:
        return found_and_sent(None), ""


def _outcome(context: dg.SensorEvaluationContext, deliveries: list[Delivery]) -> int:
    for problem in {d.problem for d in deliveries if d.problem}:
        context.log.warning(f"An alert channel failed: {problem}")
    return len([d for d in deliveries if d.sent])


ALERTS_DESCRIPTION = (
    "On by default: every few minutes it looks for records the sync gave up on, a plan waiting for "
    "approval, a Xero sign-in about to expire and an API budget used up, and sends an alert to the "
    "channels of the rules file. What each alert means and what to do: "
    "docs/operations.md#alerts-what-each-means-and-what-to-do."
)


@dg.sensor(
    minimum_interval_seconds=ALERT_CHECK_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=ALERTS_DESCRIPTION,
)
def alerts_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    """Sends an alert when records are dead-lettered, a plan waits for approval, the Xero sign-in nears expiry or the API budget is used up."""
    deliveries, why_not = check_home(Settings.from_env())
    if why_not:
        return dg.SkipReason(why_not)
    sent = _outcome(context, deliveries)
    return dg.SkipReason(f"{sent} alert deliveries sent." if sent else "Nothing needs a person.")


def tenants_alerts_sensor(tenants: Sequence[str]) -> dg.SensorDefinition:
    """``alerts_sensor`` over each client's home; one client's failure never stops another's alerts."""
    names = list(tenants)

    @dg.sensor(
        name="alerts_sensor",
        minimum_interval_seconds=ALERT_CHECK_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=ALERTS_DESCRIPTION,
    )
    def alerts_for_each_tenant(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        lines = []
        for name in names:
            try:
                deliveries, why_not = check_home(settings_of_tenant(name), name)
            except Exception as exc:  # one client's failure never stops another's alerts
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                lines.append(f"{name}: not checked: {first}")
                continue
            sent = 0 if why_not else _outcome(context, deliveries)
            lines.append(
                f"{name}: {why_not or (f'{sent} alert deliveries sent.' if sent else 'Nothing needs a person.')}"
            )
        return dg.SkipReason("\n".join(lines))

    return alerts_for_each_tenant


@dg.run_failure_sensor(
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="On by default: when a sync run fails after its retries, sends an alert with the first "
    "line of the error (with tenants, to that client's channels). What to do: "
    "docs/operations.md#alerts-what-each-means-and-what-to-do.",
)
def alert_on_failed_run(context: dg.RunFailureSensorContext) -> None:
    """Sends an alert for a run that failed after its retries, with the first line of the error; with
    tenants, to the run's client's channels, naming the client."""
    run = context.dagster_run
    if run.tags.get(WILL_RETRY_TAG) == "true":
        return  # the retry reports for itself; only the last attempt's failure needs a person
    tenant = run_tenant(run)
    try:
        settings = settings_for_run(run)
    except (SettingsError, TenantsError):
        # A run for no client (or a tenants file broken since): the install's own channels hear of it.
        settings = Settings.from_env(lenient=True)
    try:
        rules = load_rules(settings.config_file)
    except RulesError:
        return
    if not rules.alerts.channels:
        return
    error = context.failure_event.message or "the run failed"
    send(
        [for_tenant(run_failed(run.job_name, error, run.run_id), tenant)],
        rules.alerts.channels,
        sent_log=SentLog.in_home(settings.home),
    )


ALERT_SENSORS = [alerts_sensor, alert_on_failed_run]
