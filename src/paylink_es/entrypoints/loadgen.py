"""Load generator for ``paylink bench --http``: run as its own process, prints JSON.

``python -m paylink_es.entrypoints.loadgen URL PATH KEY COUNT CONCURRENCY [RATE]`` posts COUNT link
requests over CONCURRENCY keep-alive connections and reports throughput and latency
percentiles. URL may be several, comma-separated (``paylink bench --cluster``'s nodes): the
connections are spread over them in turn. With ``--idempotency-keys`` anywhere in the
arguments every request carries an ``Idempotency-Key`` of its own. Without RATE it is
closed-loop (each connection sends as soon as it has its answer). With RATE it is open-loop:
request *i* is due at ``start + i / RATE`` whatever the server is doing, and its latency
counts from when it was due, so time spent waiting for a free connection is part of it (no
coordinated omission). It speaks plain HTTP/1.1 on asyncio streams: a general-purpose client
costs more CPU per request than the server under test, and would measure itself.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from urllib.parse import urlsplit

RUN = uuid.uuid4().hex[:8]


_BODY = (
    b'{"amount": %d, "currency": "IDR", "description": "Kaos polos", '
    b'"reference_id": "LOAD-%s-%d", "methods": ["va_bca", "qris"]}'
)


def _request(host: str, path: str, key: str, i: int, idempotent: bool = False) -> bytes:
    # A byte template, not json.dumps: the generator shares the cores with the server.
    body = _BODY % (150000 + i, RUN.encode(), i)  # new links on every run, never repeats
    once = f"Idempotency-Key: {RUN}-{i}\r\n" if idempotent else ""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n{once}"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])  # b"HTTP/1.1 201 ..."
    at = head.lower().find(b"\r\ncontent-length:")
    length = 0 if at < 0 else int(head[at + 17 : head.index(b"\r\n", at + 2)])
    await reader.readexactly(length)
    return status


async def _drive(
    url: str,
    path: str,
    key: str,
    count: int,
    concurrency: int,
    rate: float | None = None,
    *,
    idempotent: bool = False,
) -> dict[str, float]:
    servers = [urlsplit(each) for each in url.split(",")]
    latencies: list[float] = []
    failures = 0
    next_index = 0

    async def connection(n: int) -> None:
        nonlocal failures, next_index
        parts = servers[n % len(servers)]
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while next_index < count:
                i = next_index
                next_index += 1
                if rate is None:
                    sent = time.perf_counter()
                else:
                    sent = begun + i / rate  # when it was due, not when a connection was free
                    delay = sent - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                writer.write(_request(f"{host}:{port}", path, key, i, idempotent))
                status = await _read_response(reader)
                latencies.append((time.perf_counter() - sent) * 1000)
                if status not in (200, 201):
                    failures += 1
        finally:
            writer.close()
            await writer.wait_closed()

    begun = time.perf_counter()
    await asyncio.gather(*(connection(n) for n in range(concurrency)))
    seconds = time.perf_counter() - begun
    latencies.sort()
    return {
        "requests": count,
        "failures": failures,
        "per_s": count / seconds,
        "p50_ms": latencies[len(latencies) // 2],
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    }


def main() -> None:
    """Entry point: arguments URL[,URL…] PATH KEY COUNT CONCURRENCY [RATE] [--idempotency-keys]."""
    args = [arg for arg in sys.argv[1:] if arg != "--idempotency-keys"]
    idempotent = len(args) < len(sys.argv) - 1
    url, path, key, count, concurrency = args[:5]
    rate = float(args[5]) if len(args) > 5 else None
    try:
        import uvloop  # uvicorn[standard] brings it; a cheaper loop leaves more CPU to the server
    except ImportError:  # pragma: no cover - plain asyncio then
        run = asyncio.run
    else:
        run = uvloop.run
    driven = _drive(url, path, key, int(count), int(concurrency), rate, idempotent=idempotent)
    print(json.dumps(run(driven)))


if __name__ == "__main__":
    main()
