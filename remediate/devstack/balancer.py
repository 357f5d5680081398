"""A TCP load balancer for the ``scale`` profile's Prefect API processes.

Prefect's clients (workers, flow runs, the CLI, the gateways) take one ``PREFECT_API_URL``,
so the API processes sit behind one address. Each new connection goes to the next healthy
upstream (round robin); an upstream that refuses a connection or fails its health check
(``GET <health path>`` every ``--interval`` seconds) is skipped until it answers 200 again.
A connection whose upstream dies is closed; Prefect's client retries such requests on a new
connection, which goes to a live upstream. Production uses the orchestrator's balancer
(a Kubernetes Service, a cloud load balancer) with the same health check.

    python -m remediate.devstack.balancer --listen 127.0.0.1:4200 \\
        --upstream 127.0.0.1:4201 --upstream 127.0.0.1:4202 --health-path /api/health
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import signal
from dataclasses import dataclass

log = logging.getLogger("remediate.balancer")

CONNECT_TIMEOUT_S = 2.0
CHUNK = 65536


@dataclass
class Upstream:
    host: str
    port: int
    healthy: bool = True

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, not {text!r}")
    return host, int(port)


async def answers_200(upstream: Upstream, path: str, timeout: float) -> bool:
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(upstream.host, upstream.port)
            try:
                request = f"GET {path} HTTP/1.1\r\nHost: {upstream}\r\nConnection: close\r\n\r\n"
                writer.write(request.encode("ascii"))
                await writer.drain()
                status_line = await reader.readline()
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
    except (OSError, TimeoutError):
        return False
    parts = status_line.split()
    return len(parts) >= 2 and parts[1] == b"200"


class Balancer:
    def __init__(self, upstreams: list[Upstream], health_path: str, interval: float) -> None:
        self.upstreams = upstreams
        self.health_path = health_path
        self.interval = interval
        self._turn = itertools.cycle(range(len(upstreams)))

    def _set(self, upstream: Upstream, healthy: bool) -> None:
        if upstream.healthy != healthy:
            log.warning("upstream %s %s", upstream, "healthy" if healthy else "down")
        upstream.healthy = healthy

    async def check_forever(self) -> None:
        while True:
            results = await asyncio.gather(
                *(answers_200(u, self.health_path, self.interval * 4) for u in self.upstreams)
            )
            for upstream, healthy in zip(self.upstreams, results, strict=True):
                self._set(upstream, healthy)
            await asyncio.sleep(self.interval)

    def candidates(self) -> list[Upstream]:
        """Every upstream once, starting at the next in turn, healthy ones first."""
        start = next(self._turn)
        ordered = self.upstreams[start:] + self.upstreams[:start]
        return [u for u in ordered if u.healthy] + [u for u in ordered if not u.healthy]

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        for upstream in self.candidates():
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT_S):
                    return await asyncio.open_connection(upstream.host, upstream.port)
            except (OSError, TimeoutError):
                self._set(upstream, False)
        return None

    async def handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        upstream = await self.connect()
        if upstream is None:
            client_w.close()
            return
        up_r, up_w = upstream
        try:
            await asyncio.gather(_pipe(client_r, up_w), _pipe(up_r, client_w))
        finally:
            for writer in (up_w, client_w):
                writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until end of stream, then half-close; on a reset, close both directions."""
    try:
        while chunk := await reader.read(CHUNK):
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except OSError:
        writer.close()


async def serve(listen: tuple[str, int], balancer: Balancer) -> None:
    server = await asyncio.start_server(balancer.handle, *listen, reuse_address=True)
    checker = asyncio.create_task(balancer.check_forever())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("balancing %s over %s", listen, ", ".join(map(str, balancer.upstreams)))
    async with server:
        await stop.wait()
    checker.cancel()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m remediate.devstack.balancer")
    parser.add_argument("--listen", type=address, required=True)
    parser.add_argument("--upstream", type=address, action="append", required=True)
    parser.add_argument("--health-path", default="/api/health")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between checks")
    args = parser.parse_args(argv)
    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    upstreams = [Upstream(host, port) for host, port in args.upstream]
    asyncio.run(serve(args.listen, Balancer(upstreams, args.health_path, args.interval)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
