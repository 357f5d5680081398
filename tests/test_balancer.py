"""The scale profile's TCP balancer: round robin over healthy upstreams, a dead one skipped."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx

from remediate.devstack.balancer import Balancer, Upstream


class Upstream200:
    """A minimal HTTP server that answers every request 200 with its name."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.server: asyncio.Server | None = None
        self.port = 0
        self.writers: set[asyncio.StreamWriter] = set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while await reader.readuntil(b"\r\n\r\n"):
                body = self.name.encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                await writer.drain()
        writer.close()
        self.writers.discard(writer)

    async def start(self) -> None:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.writers):
            writer.close()  # as a killed process's connections end
        await self.server.wait_closed()


@contextlib.asynccontextmanager
async def balanced(upstreams: list[Upstream200]) -> AsyncIterator[tuple[str, Balancer]]:
    balancer = Balancer([Upstream("127.0.0.1", u.port) for u in upstreams], "/health", 0.05)
    server = await asyncio.start_server(balancer.handle, "127.0.0.1", 0)
    checker = asyncio.create_task(balancer.check_forever())
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", balancer
    finally:
        checker.cancel()
        server.close()


async def names(url: str, count: int) -> list[str]:
    answers = []
    for _ in range(count):
        # a new connection per request, as after a dropped keep-alive connection
        async with httpx.AsyncClient(trust_env=False) as client:
            answers.append((await client.get(f"{url}/anything")).text)
    return answers


async def test_requests_alternate_and_skip_a_dead_upstream_until_it_is_back() -> None:
    one, two = Upstream200("one"), Upstream200("two")
    await one.start()
    await two.start()
    async with balanced([one, two]) as (url, balancer):
        assert set(await names(url, 4)) == {"one", "two"}

        await one.stop()
        assert await names(url, 6) == ["two"] * 6
        assert not balancer.upstreams[0].healthy

        await one.start()
        for _ in range(100):
            if balancer.upstreams[0].healthy:
                break
            await asyncio.sleep(0.05)
        assert set(await names(url, 4)) == {"one", "two"}
    await one.stop()
    await two.stop()


async def test_a_connection_to_a_dying_upstream_is_closed_and_a_new_one_succeeds() -> None:
    one, two = Upstream200("one"), Upstream200("two")
    await one.start()
    await two.start()
    async with balanced([one, two]) as (url, _), httpx.AsyncClient(trust_env=False) as client:
        first = (await client.get(f"{url}/x")).text
        await (one if first == "one" else two).stop()
        try:
            second = (await client.get(f"{url}/x")).text
        except httpx.TransportError:
            # the kept-alive connection went with its upstream; the client retries
            second = (await client.get(f"{url}/x")).text
        assert second == ("two" if first == "one" else "one")
    for upstream in (one, two):
        with contextlib.suppress(Exception):
            await upstream.stop()
