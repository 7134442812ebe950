"""Alert sensors: tell a person only when a person must act (reverse_etl/alerts.py says what that is).

``alerts_sensor`` looks every few minutes for dead-lettered records, a plan waiting for approval,
a refresh token near expiry and Xero's daily call budget used up (capsule_xero/xero/budget.py);
``alert_on_failed_run`` reports a run that failed after its retries (the jobs' run retries,
assets/jobs.py): a failed attempt that Dagster retries is nobody's business yet (what each alert
means and what to do: docs/operations.md#alerts-what-each-means-and-what-to-do).
Both send to the channels in the rules file's ``alerts:`` section and never repeat an alert
within a day. Transient retries never reach them: those succeed or end as a failed run.
"""

from contextlib import nullcontext

import dagster as dg
import duckdb

from capsule_xero.home_lock import HomeBusy, home_lock
from capsule_xero.rules.loading import RulesError, load_rules
from capsule_xero.settings import Settings
from reverse_etl.alerts.delivery import SentLog, check_and_send, send
from reverse_etl.alerts.finding import run_failed

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


@dg.sensor(minimum_interval_seconds=ALERT_CHECK_SECONDS, default_status=dg.DefaultSensorStatus.RUNNING)
def alerts_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    """Sends an alert when records are dead-lettered, a plan waits for approval, the Xero sign-in nears expiry or the API budget is used up."""
    settings = Settings.from_env()
    try:
        rules = load_rules(settings.config_file)
    except RulesError as exc:
        return dg.SkipReason(f"The rules file has problems: {exc.problems[0]}")
    if not rules.alerts.channels:
        return dg.SkipReason("No alert channels in the rules file (alerts.channels): nothing to send to.")
    try:
        # Read only while no run holds the home: an open read-only handle stops a sync from writing.
        with (
            home_lock(settings.home, shared=True, wait=0) if settings.duckdb_path.exists() else nullcontext()
        ):
            con = _read_only(settings)
            try:
                deliveries = check_and_send(con, settings, rules)
            finally:
                if con is not None:
                    con.close()
    except HomeBusy:
        deliveries = check_and_send(None, settings, rules)
    sent = [d for d in deliveries if d.sent]
    for problem in {d.problem for d in deliveries if d.problem}:
        context.log.warning(f"An alert channel failed: {problem}")
    return dg.SkipReason(f"{len(sent)} alert deliveries sent." if sent else "Nothing needs a person.")


@dg.run_failure_sensor(default_status=dg.DefaultSensorStatus.RUNNING)
def alert_on_failed_run(context: dg.RunFailureSensorContext) -> None:
    """Sends an alert for a run that failed after its retries, with the first line of the error."""
    if context.dagster_run.tags.get(WILL_RETRY_TAG) == "true":
        return  # the retry reports for itself; only the last attempt's failure needs a person
    settings = Settings.from_env()
    try:
        rules = load_rules(settings.config_file)
    except RulesError:
        return
    if not rules.alerts.channels:
        return
    error = context.failure_event.message or "the run failed"
    send(
        [run_failed(context.dagster_run.job_name, error, context.dagster_run.run_id)],
        rules.alerts.channels,
        sent_log=SentLog.in_home(settings.home),
    )


ALERT_SENSORS = [alerts_sensor, alert_on_failed_run]
