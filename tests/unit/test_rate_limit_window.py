"""The token bucket's rate and burst as the moving window the shared limiter keeps in
Redis, and the Redis URL setting."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from api.rate_limit import moving_window
from paylink_es.settings import Settings


@pytest.mark.parametrize(
    ("rate", "burst", "amount", "seconds"),
    [
        (100.0, 200, 200, 2),  # the defaults: the same burst and sustained rate
        (0.5, 20, 20, 40),
        (1.0, 8, 8, 8),
        (4.0, 2, 4, 1),  # windows are whole seconds: the rate is kept, the burst grows
        (3.0, 10, 9, 3),  # 10/3 s rounds to 3 s at 3/s
        (0.001, 1, 1, 1000),
    ],
)
def test_a_bucket_becomes_a_window_of_its_burst_over_burst_by_rate_seconds(
    rate: float, burst: int, amount: int, seconds: int
) -> None:
    window = moving_window(rate, burst)
    assert (window.amount, window.get_expiry()) == (amount, seconds)


def test_the_redis_url_must_be_a_redis_url_and_an_empty_one_is_unset() -> None:
    assert Settings(redis_url="").redis_url is None
    assert Settings(redis_url="rediss://r.example:6380/2").redis_url == "rediss://r.example:6380/2"
    with pytest.raises(ValidationError, match=r"PAYLINK_REDIS_URL must be a redis://"):
        Settings(redis_url="http://r.example:6379")


def test_the_redis_url_shows_no_password() -> None:
    settings = Settings(redis_url="redis://:hunter2-value@r.example:6379/0")
    assert "hunter2-value" not in repr(settings)
    assert "redis://:***@r.example:6379/0" in repr(settings)
