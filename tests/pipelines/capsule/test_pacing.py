"""The pacing policy on its own: a fake clock, fake answers, no network."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import requests
from pydantic import SecretStr

from capsule_xero.capsule.errors import CapsuleRateLimitReached, CapsuleUnavailable
from capsule_xero.capsule.pacing import CapsulePacer, shared_pacer

START = 1_800_000_000.0  # a whole hour: 2027-01-15 08:00:00 UTC


@dataclass
class Answer:
    status_code: int
    headers: dict[str, str] = field(default_factory=dict)
    reason: str = ""


class FakeTime:
    def __init__(self) -> None:
        self.now = START
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def limit_headers(remaining: int, reset: float, limit: int = 4000) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": str(int(reset)),
    }


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


def pacer_on(fake: FakeTime, **options: float) -> CapsulePacer:
    defaults = {"backoff_initial": 0.0, "backoff_max": 0.0, "backoff_jitter": 0.0, "reset_margin": 1.0}
    return CapsulePacer(clock=fake.clock, sleep=fake.sleep, **{**defaults, **options})  # type: ignore[arg-type]


class Capsule:
    """Answers in order, on the fake clock; remembers when each request of the last call went out."""

    def __init__(self, fake: FakeTime) -> None:
        self.fake = fake
        self.sent_at: list[float] = []

    def call(self, pacer: CapsulePacer, *answers: Answer | BaseException, idempotent: bool = True) -> Answer:
        queue = list(answers)
        self.sent_at = []

        def perform() -> Answer:
            self.sent_at.append(self.fake.now)
            item = queue.pop(0)
            if isinstance(item, BaseException):
                raise item
            return item

        return pacer.call(perform, what="GET /api/v2/parties", idempotent=idempotent)


@pytest.fixture
def capsule(fake: FakeTime) -> Capsule:
    return Capsule(fake)


def test_a_429_is_retried_once_x_ratelimit_reset_has_passed_and_not_before(
    fake: FakeTime, capsule: Capsule
) -> None:
    pacer = pacer_on(fake)
    reset = START + 120
    answer = capsule.call(
        pacer, Answer(429, limit_headers(0, reset)), Answer(200, limit_headers(3999, reset + 3600))
    )
    assert answer.status_code == 200
    assert capsule.sent_at == [START, reset + 1.0]  # type: ignore[attr-defined]
    assert fake.slept == [121.0]
    assert pacer.retries == 1 and pacer.waited == 121.0


def test_a_429_whose_reset_is_far_away_stops_with_the_time_to_come_back(
    fake: FakeTime, capsule: Capsule
) -> None:
    pacer = pacer_on(fake, max_wait=300)
    reset = START + 45 * 60
    with pytest.raises(CapsuleRateLimitReached) as stopped:
        capsule.call(pacer, Answer(429, limit_headers(0, reset)))
    assert "resets at 2027-01-15 08:45:00 UTC (in about 46 min)" in str(stopped.value)
    assert "4,000 calls per hour" in str(stopped.value)
    assert fake.slept == []
    assert len(capsule.sent_at) == 1  # type: ignore[attr-defined]


def test_when_the_server_says_nothing_is_left_the_next_call_waits_without_being_refused(
    fake: FakeTime, capsule: Capsule
) -> None:
    pacer = pacer_on(fake)
    reset = START + 30
    capsule.call(pacer, Answer(200, limit_headers(0, reset)))
    capsule.call(pacer, Answer(200, limit_headers(3999, reset + 3600)))
    assert capsule.sent_at == [reset + 1.0]  # type: ignore[attr-defined]


def test_no_more_than_4000_calls_go_out_in_any_hour_even_without_headers(
    fake: FakeTime, capsule: Capsule
) -> None:
    pacer = pacer_on(fake, max_wait=10)
    for _ in range(4000):
        capsule.call(pacer, Answer(200))
        fake.now += 0.5
    with pytest.raises(CapsuleRateLimitReached) as stopped:
        capsule.call(pacer, Answer(200))
    assert stopped.value.resume_at.timestamp() == START + 3600
    fake.now = START + 3600 - 5  # five seconds before the first call is an hour old: wait for it
    capsule.call(pacer, Answer(200))
    assert capsule.sent_at == [START + 3600 + 1.0]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "failure",
    [
        Answer(500, reason="Internal Server Error"),
        Answer(503, reason="Service Unavailable"),
        requests.ConnectionError("connection reset"),
        requests.ReadTimeout("read timed out"),
        requests.exceptions.ChunkedEncodingError("connection broken: IncompleteRead"),
    ],
    ids=["500", "503", "dropped", "timeout", "cut-mid-body"],
)
def test_server_errors_timeouts_and_drops_are_retried_with_backoff(
    fake: FakeTime, capsule: Capsule, failure: Answer | BaseException
) -> None:
    pacer = pacer_on(fake)
    assert capsule.call(pacer, failure, failure, Answer(200)).status_code == 200
    assert pacer.retries == 2


def test_retries_end_with_an_error_that_says_what_failed(fake: FakeTime, capsule: Capsule) -> None:
    pacer = pacer_on(fake, attempts=3)
    with pytest.raises(CapsuleUnavailable) as failed:
        capsule.call(pacer, *[Answer(503, reason="Service Unavailable")] * 3)
    assert str(failed.value).startswith(
        "Capsule did not answer GET /api/v2/parties after 3 attempts (last: HTTP 503 Service Unavailable)."
    )


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_other_4xx_answers_are_returned_at_once_and_never_retried(
    fake: FakeTime, capsule: Capsule, status: int
) -> None:
    pacer = pacer_on(fake)
    assert capsule.call(pacer, Answer(status), Answer(200)).status_code == status
    assert pacer.calls == 1 and pacer.retries == 0


def test_a_call_that_may_have_written_is_not_repeated_after_a_drop(fake: FakeTime, capsule: Capsule) -> None:
    pacer = pacer_on(fake)
    with pytest.raises(CapsuleUnavailable, match="not retried: it may have been applied"):
        capsule.call(pacer, requests.ConnectionError("reset"), Answer(201), idempotent=False)
    assert pacer.calls == 1
    # ... but a 429 (refused unprocessed) is retried even then
    answer = capsule.call(pacer, Answer(429, limit_headers(0, fake.now + 2)), Answer(201), idempotent=False)
    assert answer.status_code == 201


def test_every_caller_of_one_capsule_user_shares_one_pacer_that_does_not_keep_the_token() -> None:
    token = SecretStr("pacing-test-token-" + "x" * 20)
    first = shared_pacer("https://api.capsulecrm.com/api/v2", token)
    assert shared_pacer("https://api.capsulecrm.com/api/v2/", SecretStr(token.get_secret_value())) is first
    assert shared_pacer("https://api.capsulecrm.com/api/v2", SecretStr("another-user")) is not first
    assert token.get_secret_value() not in repr(vars(first))
