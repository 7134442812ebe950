"""The pacing policy on its own, with a fake Xero: what is retried, what waits, what stops."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
import requests

from capsule_xero.xero.errors import DailyLimitReached, XeroUnavailable
from capsule_xero.xero.pacing import PacingPolicy, XeroPacer
from capsule_xero.xero.transports import requests_transient

FAST = PacingPolicy(backoff_initial=0.01, backoff_max=0.02, backoff_jitter=0.0, attempts=4)


@dataclass
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)


def call(pacer: XeroPacer, send: Callable[[], Answer], write: bool = False) -> Answer:
    return pacer.call(
        send,
        write=write,
        status=lambda a: a.status,
        headers=lambda a: a.headers,
        transient=requests_transient,
    )


def scripted(*answers: Answer | Exception) -> tuple[Callable[[], Answer], list[float]]:
    queue, times = list(answers), []

    def send() -> Answer:
        times.append(time.monotonic())
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    return send, times


def test_other_4xx_answers_are_returned_at_once_never_retried() -> None:
    send, times = scripted(Answer(400), Answer(200))
    assert call(XeroPacer("t", FAST), send).status == 400
    assert len(times) == 1


def test_5xx_timeouts_and_drops_are_retried_and_a_lasting_failure_is_reported() -> None:
    send, times = scripted(
        Answer(500), requests.ReadTimeout(), requests.exceptions.ChunkedEncodingError(), Answer(200)
    )
    assert call(XeroPacer("t", FAST), send).status == 200
    assert len(times) == 4
    send, _ = scripted(*[requests.ConnectionError()] * 4)
    with pytest.raises(XeroUnavailable, match="failed 4 times in a row"):
        call(XeroPacer("t", FAST), send)
    send, _ = scripted(*[Answer(503)] * 4)
    assert call(XeroPacer("t", FAST), send).status == 503  # handed back for the caller's message


def test_a_retry_after_holds_back_every_caller_of_the_organisation() -> None:
    pacer = XeroPacer("t", FAST)
    send, times = scripted(Answer(429, {"Retry-After": "0.4", "X-Rate-Limit-Problem": "minute"}), Answer(200))
    started = time.monotonic()
    worker = threading.Thread(target=call, args=(pacer, send))
    worker.start()
    time.sleep(0.05)
    other, other_times = scripted(Answer(200))
    call(pacer, other)  # another caller, same organisation
    worker.join()
    assert times[1] - times[0] >= 0.4
    assert other_times[0] - started >= 0.4


def test_no_more_calls_per_minute_than_the_limit_counting_from_when_calls_finished() -> None:
    pacer = XeroPacer("t", PacingPolicy(calls_per_minute=3, minute_seconds=0.3))
    finished: list[float] = []

    def send() -> Answer:
        time.sleep(0.02)
        finished.append(time.monotonic())
        return Answer(200)

    for _ in range(4):
        call(pacer, send)
    assert finished[3] - 0.02 >= finished[0] + 0.3 - 0.01


def test_reads_stop_at_the_daily_reserve_and_writes_may_use_it() -> None:
    pacer = XeroPacer("t", PacingPolicy(daily_reserve=2))
    send, _ = scripted(Answer(200, {"X-DayLimit-Remaining": "3"}), Answer(200, {"X-DayLimit-Remaining": "2"}))
    call(pacer, send)
    call(pacer, send)
    with pytest.raises(DailyLimitReached, match="2 calls left, kept for writes") as stopped:
        call(pacer, scripted(Answer(200))[0])
    assert not stopped.value.exact
    write, times = scripted(Answer(200, {"X-DayLimit-Remaining": "1"}))
    assert call(pacer, write, write=True).status == 200 and len(times) == 1


def test_when_xero_says_the_minute_is_used_up_only_one_call_at_a_time_goes_out() -> None:
    pacer = XeroPacer("t", FAST)
    pacer.observe(200, {"X-MinLimit-Remaining": "0"})  # another process ate this minute
    in_flight, peak = [0], [0]
    lock = threading.Lock()

    def send() -> Answer:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.05)
        with lock:
            in_flight[0] -= 1
        return Answer(200, {"X-MinLimit-Remaining": "0"})

    threads = [threading.Thread(target=call, args=(pacer, send)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak[0] == 1
    pacer.observe(200, {"X-MinLimit-Remaining": "55"})
    assert pacer._minute_left == 55
