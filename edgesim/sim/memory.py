"""Memory levels as SimPy resources: one port per level, shared by every unit and DMA channel using it."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from edgesim.hw.schema import MemoryLevel

PS_PER_S = 10**12


def seconds_to_ps(seconds: float) -> int:
    return int(round(seconds * PS_PER_S))


def now_ps(env: simpy.Environment) -> int:
    """The clock as an int: every timeout is an integer number of picoseconds, so it stays exact."""
    return int(env.now)


class MemoryPort:
    """A memory level's data port: transfers queue for it (contention) and hold it for bytes / bandwidth.

    The access latency is paid after the port is released, as pipelined requests overlap their latency.
    """

    def __init__(self, env: simpy.Environment, level: MemoryLevel, profile_clock_mhz: float) -> None:
        self.env = env
        self.name: str = level.name
        self.kind: str = level.kind.value
        # Demand transfers go before prefetches queued at the same time (lower number = served first).
        self.port = simpy.PriorityResource(env, capacity=1)
        self.level = level
        self.profile_clock_mhz = profile_clock_mhz
        clock_hz = (level.clock_mhz if level.clock_mhz is not None else profile_clock_mhz) * 1e6
        self.latency_ps = seconds_to_ps(level.latency_cycles / clock_hz)
        self.busy_ps = 0
        self.intervals: list[tuple[int, int, str]] = []

    def service_ps(self, read_bytes: int, write_bytes: int) -> int:
        read_s, write_s = self.level.transfer_s(read_bytes, write_bytes, self.profile_clock_mhz)
        return seconds_to_ps(read_s) + seconds_to_ps(write_s)

    def transfer(self, read_bytes: int, write_bytes: int, what: str, requests: int = 1,
                 wait_latency: bool = True, priority: int = 0) -> Generator[Any, Any, None]:
        """Process: move the bytes through this port as ``requests`` back-to-back requests, each paying the
        access latency (an aggregated run of tiles stands for that many DMA requests). With
        ``wait_latency=False`` the caller pays the latency itself (a DMA engine with requests in flight).
        A ``priority`` above 0 (a speculative prefetch) waits while demand transfers are queued."""
        if not read_bytes and not write_bytes:
            return
        with self.port.request(priority=priority) as req:
            yield req
            start = now_ps(self.env)
            service = self.service_ps(read_bytes, write_bytes)
            if service:
                yield self.env.timeout(service)
            self.busy_ps += service
            self.intervals.append((start, now_ps(self.env), what))
        if self.latency_ps and wait_latency:
            yield self.env.timeout(self.latency_ps * requests)
