"""The durable record of each Xero organisation's daily call budget: ``$CAPSULE_XERO_HOME/xero-budget.json``.

Xero counts 5,000 calls a day per organisation and app (1,000 on the Starter tier) and says how many
are left in ``X-DayLimit-Remaining`` on every answer (docs/api-facts.md#xero-rate-limits). The pacer
(``capsule_xero/xero/pacing.py``) learns it during a run; this file keeps it afterwards, so that
``capsule-xero status`` can say how many calls are left and the alerts check can tell a person when
the day's calls are used up. It lives beside the DuckDB file, not in it: status and alerting must work
while a run holds DuckDB.

One entry per organisation, keyed by API origin and tenant (empty for a custom connection, which
serves one organisation): the last figure Xero gave with the wall time it was seen, the calls the
recording process made since, and, after a day-limit 429 or reads stopped at the write reserve, when
calls can go again (``resume_after``) and whether Xero said so exactly (``Retry-After``) or it is the
latest it can be (Xero's day windows last 24 hours). No tokens, nothing secret: a tenant id is not one.

Writes are atomic (temp file, fsync, rename), serialised across processes by a lock file, merged
field group by field group (the newer figure wins, the newer stop-or-clear wins), and throttled by
``BudgetRecorder`` to one a second per organisation except for a stop, which is written at once.
A file that cannot be written is logged, never an error: no Xero call fails because of it.
"""

from __future__ import annotations

import atexit
import json
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from capsule_xero.files import exclusive_lock, write_private_file

log = logging.getLogger(__name__)

BUDGET_FILE_NAME = "xero-budget.json"
FORMAT_VERSION = 1
# Xero's daily window lasts 24 hours and resets at an organisation-specific time (docs/api-facts.md#xero-rate-limits): a figure
# older than that says nothing about today.
DAY_WINDOW = timedelta(hours=24)
# At most 5 calls of one organisation are in flight at once (docs/api-facts.md#xero-rate-limits), so answers arriving out of
# order can raise the figure by at most that much; a bigger rise means a new daily window began.
IN_FLIGHT_LIMIT = 5
WRITE_INTERVAL_SECONDS = 1.0


def budget_file_in(home: Path | str) -> Path:
    """Where the budget record of the installation at ``home`` (CAPSULE_XERO_HOME) lives."""
    return Path(home) / BUDGET_FILE_NAME


def api_origin(url: str) -> str:
    """``scheme://host[:port]`` of a Xero API URL, lower-cased: the record's (and the pacer's) key."""
    parts = urlsplit(str(url))
    return f"{parts.scheme}://{parts.netloc}".lower()


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _number(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class OrganisationBudget:
    """What is known of one organisation's daily budget, and since when."""

    api: str  # the API origin, e.g. https://api.xero.com
    tenant: str  # the xero-tenant-id, lower-cased; "" for a custom connection
    day_remaining: int | None = None  # the last X-DayLimit-Remaining
    seen_at: datetime | None = None  # when that figure arrived (wall time, UTC)
    calls_since: int = 0  # calls the recording process started after that figure arrived
    reserve: int | None = None  # calls a day the recording process kept for writes
    # Set after a day-limit 429 (remaining 0) or reads stopped at the reserve (remaining > 0).
    resume_after: datetime | None = None
    resume_exact: bool = False  # Xero's Retry-After; otherwise the latest the window can reset
    stop_remaining: int | None = None  # the figure when calls stopped
    stop_changed_at: datetime | None = None  # when the stop was set or lifted
    updated_at: datetime | None = None

    @property
    def key(self) -> str:
        return f"{self.api}|{self.tenant}"

    def stopped(self, now: datetime) -> bool:
        """Calls (reads at least) are stopped until ``resume_after``, which is still to come."""
        return self.resume_after is not None and now < self.resume_after

    def used_up(self, now: datetime) -> bool:
        """Xero refused a call for the day (nothing left, not even for writes) and the window has not reset."""
        return self.stopped(now) and not self.stop_remaining

    def figure_is_stale(self, now: datetime) -> bool:
        """The figure is older than Xero's daily window: the window has reset since."""
        return self.seen_at is None or now - self.seen_at > DAY_WINDOW

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("seen_at", "resume_after", "stop_changed_at", "updated_at"):
            value = data[name]
            data[name] = value.astimezone(UTC).isoformat() if value is not None else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OrganisationBudget | None:
        api, tenant = data.get("api"), data.get("tenant")
        if not isinstance(api, str) or not isinstance(tenant, str):
            return None
        return cls(
            api=api,
            tenant=tenant,
            day_remaining=_number(data.get("day_remaining")),
            seen_at=_when(data.get("seen_at")),
            calls_since=_number(data.get("calls_since")) or 0,
            reserve=_number(data.get("reserve")),
            resume_after=_when(data.get("resume_after")),
            resume_exact=data.get("resume_exact") is True,
            stop_remaining=_number(data.get("stop_remaining")),
            stop_changed_at=_when(data.get("stop_changed_at")),
            updated_at=_when(data.get("updated_at")),
        )


def new_window_began(stop_remaining: int | None, day_remaining: int | None) -> bool:
    """A figure seen after a stop that only a reset of Xero's daily window explains."""
    return day_remaining is not None and day_remaining > (stop_remaining or 0) + IN_FLIGHT_LIMIT


_EPOCH = datetime.min.replace(tzinfo=UTC)


def merge(old: OrganisationBudget | None, new: OrganisationBudget) -> OrganisationBudget:
    """One entry from the file's and a process's: the newer figure and the newer stop-or-lift win.

    Several processes record the same organisation (a run's extract and writer, a CLI command); each
    knows only its own calls. A stop another process recorded is lifted by a later figure that only
    a new daily window explains.
    """
    if old is None or old.key != new.key:
        merged = new
    else:
        figure = new if (new.seen_at or _EPOCH) >= (old.seen_at or _EPOCH) else old
        stop = new if (new.stop_changed_at or _EPOCH) >= (old.stop_changed_at or _EPOCH) else old
        merged = replace(
            new,
            day_remaining=figure.day_remaining,
            seen_at=figure.seen_at,
            calls_since=figure.calls_since,
            resume_after=stop.resume_after,
            resume_exact=stop.resume_exact,
            stop_remaining=stop.stop_remaining,
            stop_changed_at=stop.stop_changed_at,
            updated_at=max(new.updated_at or _EPOCH, old.updated_at or _EPOCH),
            reserve=new.reserve if new.reserve is not None else old.reserve,
        )
    if (
        merged.resume_after is not None
        and merged.seen_at is not None
        and merged.seen_at > (merged.stop_changed_at or _EPOCH)
        and new_window_began(merged.stop_remaining, merged.day_remaining)
    ):
        merged = replace(
            merged, resume_after=None, resume_exact=False, stop_remaining=None, stop_changed_at=merged.seen_at
        )
    return merged


# ---- the file ----------------------------------------------------------------------------------------


def _load(path: Path) -> dict[str, OrganisationBudget]:
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, NotADirectoryError):
        return {}
    except (OSError, ValueError):
        log.warning("Xero budget record %s is unreadable; it is started afresh", path)
        return {}
    organisations = data.get("organisations") if isinstance(data, dict) else None
    entries: dict[str, OrganisationBudget] = {}
    for value in organisations.values() if isinstance(organisations, dict) else ():
        entry = OrganisationBudget.from_json(value) if isinstance(value, dict) else None
        if entry is not None:
            entries[entry.key] = entry
    return entries


def read_budgets(path: Path) -> list[OrganisationBudget]:
    """Every organisation in the record (none when the file is missing or unreadable). Needs no lock:
    the file is only ever replaced whole."""
    return sorted(_load(Path(path)).values(), key=lambda e: (e.api, e.tenant))


def read_budget(path: Path, api: str, tenant: str) -> OrganisationBudget | None:
    return _load(Path(path)).get(OrganisationBudget(api, tenant).key)


def record(path: Path, entries: Iterable[OrganisationBudget]) -> None:
    """Merge ``entries`` into the file at ``path`` (locked across processes, replaced atomically).

    Raises ``OSError`` when the file cannot be written; ``BudgetRecorder`` turns that into a warning.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(path.with_name(path.name + ".lock")):
        current = _load(path)
        for entry in entries:
            current[entry.key] = merge(current.get(entry.key), entry)
        body = {
            "version": FORMAT_VERSION,
            "organisations": {key: current[key].to_json() for key in sorted(current)},
        }
        write_private_file(path, json.dumps(body, indent=1, sort_keys=True).encode("utf-8"))


# ---- the throttled writer one organisation's pacer uses ----------------------------------------------

_RECORDERS: weakref.WeakSet[BudgetRecorder] = weakref.WeakSet()


class BudgetRecorder:
    """Writes one organisation's entry: at most once per ``interval`` seconds, a stop at once.

    A figure that arrives inside the interval is kept and written when the interval ends (a timer
    thread), so the file is never more than ``interval`` behind; whatever is pending when the process
    exits is written then. ``update`` never raises: a file that cannot be written is a warning.
    """

    def __init__(
        self,
        path: Path,
        api: str,
        tenant: str,
        interval: float = WRITE_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self.api = api
        self.tenant = tenant
        self.interval = interval
        self.clock = clock
        self.writes = 0  # successful writes of this recorder
        self._state = threading.Lock()
        self._writing = threading.Lock()
        self._pending: OrganisationBudget | None = None
        self._last_write: float | None = None
        self._timer: threading.Timer | None = None
        self._failing = False
        _RECORDERS.add(self)

    def saved(self) -> OrganisationBudget | None:
        """This organisation's entry as the file holds it now (None when absent or unreadable)."""
        try:
            return read_budget(self.path, self.api, self.tenant)
        except OSError:
            return None

    def update(self, entry: OrganisationBudget, urgent: bool = False) -> None:
        """Record ``entry`` (this organisation's state as one process sees it)."""
        with self._state:
            self._pending = entry
            now = self.clock()
            wait = 0.0 if urgent or self._last_write is None else self.interval - (now - self._last_write)
            if wait > 0:
                if self._timer is None:
                    self._timer = threading.Timer(wait, self._on_timer)
                    self._timer.daemon = True
                    self._timer.start()
                return
            self._last_write = now
        self._write_pending()

    def flush(self) -> None:
        """Write what is pending now (the process is about to end, or a caller wants it on disk)."""
        with self._state:
            if self._pending is None:
                return
            self._last_write = self.clock()
        self._write_pending()

    def _on_timer(self) -> None:
        with self._state:
            self._timer = None
            self._last_write = self.clock()
        self._write_pending()

    def _write_pending(self) -> None:
        with self._writing:
            with self._state:
                entry, self._pending = self._pending, None
                timer, self._timer = self._timer, None
            if timer is not None and timer is not threading.current_thread():
                timer.cancel()
            if entry is None:
                return
            try:
                record(self.path, [entry])
            except Exception as exc:  # never fail a Xero call over its bookkeeping
                if not self._failing:
                    log.warning(
                        "Could not record Xero's daily call budget in %s (%s: %s); calls go on, but "
                        "`capsule-xero status` and the budget alert will not know about them",
                        self.path,
                        type(exc).__name__,
                        exc,
                    )
                self._failing = True
            else:
                self.writes += 1
                if self._failing:
                    log.info("Xero's daily call budget is recorded in %s again", self.path)
                self._failing = False


def flush_all() -> None:
    """Write every recorder's pending entry (registered to run at exit)."""
    for recorder in list(_RECORDERS):
        recorder.flush()


atexit.register(flush_all)
