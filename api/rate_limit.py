"""The per-key rate limit across the cluster: a moving window kept in Redis.

With ``PAYLINK_REDIS_URL`` every node counts a key's requests in one Redis list (the
``limits`` library's moving window, one Lua script per request), so the nodes together
grant the key its limit once, not once per node. Without it each node keeps its own token
bucket (:class:`api.auth.RateLimiter`) and grants the full limit by itself.

The token bucket's ``rate``/``burst`` become a window of ``burst / rate`` seconds rounded to
whole seconds (the library's windows are whole seconds; at least 1) holding ``rate * window``
requests: the sustained rate is kept, and the burst equals it whenever ``burst / rate`` is a
whole number (the defaults, 200 over 2 s). The two differ in how a spent key recovers: the
bucket gives back a request every ``1 / rate`` seconds, the window gives back each request
``window`` seconds after it was made, so after a full burst a key waits up to the whole
window and then may burst again.

Redis unreachable (refused, timed out, any Redis error): the request is judged by the
node's own bucket, never refused for it and never left unlimited; a warning is logged
once per outage, :attr:`SharedRateLimiter.local_decisions` counts the requests so judged
(``GET /readyz`` shows it), and Redis is asked again after :data:`RETRY_REDIS_S`. A
payment platform keeps taking payments while its limiter's store is down; each node then
grants the full limit, as without Redis. A request waits at most ``redis_timeout_s`` for
Redis before that (on the event loop's thread: 0.12-0.21 ms on loopback, measured).
"""

from __future__ import annotations

import logging
import threading
import time

from limits import RateLimitItemPerSecond
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter
from redis import ConnectionPool
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from api.auth import Limiter, RateLimiter
from api.schemas import RateLimitState
from paylink_es.settings import Settings, without_password

log = logging.getLogger("paylink.api")

# After Redis failed, the node's own bucket decides for this long before Redis is tried again:
# an outage costs one timeout per this many seconds, not one per request.
RETRY_REDIS_S = 2.0


def moving_window(rate: float, burst: int) -> RateLimitItemPerSecond:
    """The moving window closest to a token bucket of ``rate``/s and ``burst``."""
    seconds = max(1, round(burst / rate))
    return RateLimitItemPerSecond(max(1, round(rate * seconds)), seconds, namespace="key")


class SharedRateLimiter:
    """A key's moving window in Redis, shared by every node; the node's bucket when
    Redis does not answer."""

    def __init__(self, storage: RedisStorage, rate: float, burst: int) -> None:
        self.item = moving_window(rate, burst)
        self.local = RateLimiter(rate, burst)
        self.local_decisions = 0
        self._storage = storage
        self._window = MovingWindowRateLimiter(storage)
        self._down_until = 0.0
        self._lock = threading.Lock()

    @property
    def redis_reachable(self) -> bool:
        """Whether the last request Redis was asked about got its answer."""
        return self._down_until == 0.0

    def wait_needed(self, key: object) -> float:
        """0 if the request may go now (and counts in the window), else seconds to wait."""
        if self._down_until and time.monotonic() < self._down_until:
            return self._locally(key)
        identifier = str(key)
        try:
            if self._window.hit(self.item, identifier):
                wait = 0.0
            else:
                reset_at, _ = self._window.get_window_stats(self.item, identifier)
                wait = max(reset_at - time.time(), 0.001)
        except (RedisError, OSError) as error:
            self._went_down(error)
            return self._locally(key)
        if self._down_until:
            self._down_until = 0.0
            log.warning("rate limiter: Redis answers again; limits hold across the cluster")
        return wait

    def close(self) -> None:
        """Close the connections to Redis."""
        self._storage.storage.close()

    def _locally(self, key: object) -> float:
        with self._lock:
            self.local_decisions += 1
        return self.local.wait_needed(key)

    def _went_down(self, error: Exception) -> None:
        with self._lock:
            first = self._down_until == 0.0
            self._down_until = time.monotonic() + RETRY_REDIS_S
        if first:
            log.warning(
                "rate limiter: Redis does not answer (%s); each node limits on its own until"
                " it does",
                " ".join(str(error).split()) or type(error).__name__,
            )


def rate_limiter(settings: Settings) -> Limiter:
    """The app's limiter: shared through Redis when ``redis_url`` is set, else this node's.

    Building it connects to nothing; the first request does."""
    if settings.redis_url is None or settings.rate_limit_per_s <= 0:
        return RateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst)
    pool = ConnectionPool.from_url(
        settings.redis_url,
        socket_timeout=settings.redis_timeout_s,
        socket_connect_timeout=settings.redis_timeout_s,
        retry=Retry(NoBackoff(), 0),  # the node's bucket is the fallback, not a retry
    )
    storage = RedisStorage(
        settings.redis_url, connection_pool=pool, key_prefix=settings.redis_key_prefix
    )
    log.info(
        "rate limits per key across the cluster in Redis at %s",
        without_password(settings.redis_url),
    )
    return SharedRateLimiter(storage, settings.rate_limit_per_s, settings.rate_limit_burst)


def limiter_state(limiter: Limiter) -> RateLimitState:
    """Where the limits are kept, for ``GET /readyz``."""
    if isinstance(limiter, SharedRateLimiter):
        return RateLimitState(
            store="redis",
            redis_reachable=limiter.redis_reachable,
            local_decisions=limiter.local_decisions,
        )
    return RateLimitState(store="node")


def close_limiter(limiter: Limiter) -> None:
    """Close the limiter's connections, if it holds any."""
    if isinstance(limiter, SharedRateLimiter):
        limiter.close()
