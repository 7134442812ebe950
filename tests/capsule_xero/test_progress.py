"""The ETA of long work is the slower of the rate seen so far and the rate the pacing allows, and it
says when the work will pass the calls left today."""

from __future__ import annotations

from capsule_xero.progress import Progress, StageMeter, ThrottledReporter, duration_text


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeCalls:
    def __init__(self, made: int = 0, left: int | None = None) -> None:
        self.made, self.left = made, left

    def __call__(self) -> tuple[int, int | None]:
        return self.made, self.left


def test_a_slow_api_makes_the_eta_follow_the_observed_rate() -> None:
    clock = FakeClock()
    meter = StageMeter("contacts", 100, calls=FakeCalls(), calls_per_second=1.0, clock=clock)
    clock.now += 40.0  # 10 batches in 40 s: 4 s a batch, slower than the pacing's 1 s a call
    progress = meter.update(10)
    assert progress.eta_seconds == 90 * 4.0


def test_a_fast_start_makes_the_eta_follow_the_pacing_limit() -> None:
    clock = FakeClock()
    # Xero: 60 calls a minute. 30 calls in 3 s is what an unthrottled start looks like, not the pace.
    meter = StageMeter("contacts", 1030, calls=FakeCalls(), calls_per_second=1.0, clock=clock)
    clock.now += 3.0
    progress = meter.update(30)
    assert progress.eta_seconds == 1000.0
    assert "16m 40s" in progress.figures()


def test_calls_are_counted_from_the_start_of_the_stage_with_the_calls_left_today() -> None:
    calls = FakeCalls(made=7, left=900)
    clock = FakeClock()
    meter = StageMeter("contacts", 20, unit="batches", calls=calls, calls_per_second=1.0, clock=clock)
    calls.made, calls.left = 12, 895
    clock.now += 5.0
    progress = meter.update(5)
    assert (progress.calls_used, progress.calls_left) == (5, 895)
    assert progress.figures() == "5/20 batches, 5 calls, 895 calls left today, ETA 15s"


def test_work_that_needs_more_calls_than_are_left_today_says_the_next_run_continues_it() -> None:
    meter = StageMeter("contacts", 400, calls=FakeCalls(left=150), calls_per_second=1.0, clock=FakeClock())
    progress = meter.update(0)
    assert progress.stops_at_daily_limit
    assert "past today's calls left: the next run continues" in progress.figures()


def test_an_unknown_total_has_no_eta_and_a_finished_stage_says_done() -> None:
    clock = FakeClock()
    reading = StageMeter("capsule", None, unit="pages", calls=FakeCalls(), clock=clock)
    clock.now += 10
    assert reading.update(12).eta_seconds is None
    assert reading.update(12).figures() == "12 pages, 0 calls, ETA unknown"
    assert StageMeter("notes", 3, clock=clock).update(3).figures().endswith("ETA done")


def test_a_run_log_gets_each_stage_start_and_end_and_otherwise_a_line_every_ten_seconds() -> None:
    clock = FakeClock()
    lines: list[str] = []
    reporter = ThrottledReporter(lines.append, clock=clock, names={"contacts": "Writing contacts"})
    for done in range(0, 101):
        reporter(Progress("contacts", done, 100))
        clock.now += 0.5  # 50 s in all
    assert lines[0].startswith("Writing contacts: 0/100")
    assert lines[-1].startswith("Writing contacts: 100/100")
    assert 5 <= len(lines) <= 8
    assert reporter.metadata()["progress_contacts_done"] == 100


def test_durations_read_as_a_person_would_say_them() -> None:
    assert [duration_text(s) for s in (0.2, 59, 185, 7620)] == ["1s", "59s", "3m 05s", "2h 07m"]
