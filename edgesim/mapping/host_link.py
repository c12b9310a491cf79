"""Per-inference input/output transfer over a host link (a USB accelerator: NCS2, Coral USB), and the round trip
a frame waits for where every inference is a remote call to the device (frame_round_trip_s).

A stick's runtime copies the network input from the host over USB before every inference and reads the output
back after it, each a synchronous transfer with its own round trip. The link is the profile's own ``host_link``
memory named by ``placement.inputs`` / ``placement.outputs`` (its bandwidth, clock and latency); what crosses it
is the runtime's ``host_io`` (RuntimeProfile): the element size the host sends, which need not be the dtype
the network computes in (OpenVINO feeds FP32 and the MYRIAD plugin converts to FP16 on the stick). The time is
added to the schedule's per-inference cost, on the host clock like the rest of it.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from edgesim.hw.schema import HardwareProfile, MemoryKind, MemoryLevel, RuntimeProfile
from edgesim.ir.graph import Graph


@dataclass(frozen=True)
class HostTransfer:
    """One inference's traffic over the host link and the seconds it takes."""

    input_bytes: float
    output_bytes: float
    seconds: float


def _link(profile: HardwareProfile, name: str | None) -> MemoryLevel | None:
    if not name:
        return None
    mem = profile.memory(name)
    return mem if mem.kind is MemoryKind.HOST_LINK else None


def _transfer_s(mem: MemoryLevel, nbytes: float, bw_bytes_per_s: float, profile_clock_mhz: float,
                trips: int) -> float:
    latency_s = mem.latency_cycles / (mem.clock_mhz or profile_clock_mhz) / 1e6
    return nbytes / bw_bytes_per_s + latency_s * trips


def host_transfer(graph: Graph, profile: HardwareProfile, runtime: RuntimeProfile | None) -> HostTransfer | None:
    """The input/output transfer of one inference, or None when the runtime declares no host I/O or the profile
    keeps its inputs and outputs off a host link (the runtime runs where the data already is)."""
    io = runtime.host_io if runtime is not None else None
    if io is None:
        return None
    link_in = _link(profile, profile.placement.inputs)
    link_out = _link(profile, profile.placement.outputs)
    if link_in is None and link_out is None:
        return None
    in_bytes = sum(graph.tensors[t].num_elements for t in graph.inputs) * io.input_element_bytes
    out_bytes = sum(graph.tensors[t].num_elements for t in graph.outputs) * io.output_element_bytes
    # The round trips split between the two directions: the input write(s) first, the output read(s) after.
    trips_in = (io.transfers + 1) // 2 if link_out is not None else io.transfers
    trips_out = io.transfers - trips_in if link_in is not None else io.transfers
    seconds = 0.0
    if link_in is not None:
        # The device reads the input from the link (host -> device) ...
        seconds += _transfer_s(link_in, in_bytes, link_in.read_bw_bytes_per_s(profile.clock_mhz),
                               profile.clock_mhz, trips_in)
    if link_out is not None:
        # ... and writes its output back (device -> host).
        seconds += _transfer_s(link_out, out_bytes, link_out.write_bw_bytes_per_s(profile.clock_mhz),
                               profile.clock_mhz, trips_out)
    return HostTransfer(in_bytes if link_in is not None else 0.0, out_bytes if link_out is not None else 0.0,
                        seconds)


def frame_round_trip_s(profile: HardwareProfile, runtime: RuntimeProfile | None) -> float:
    """Seconds of the host round trip every frame waits for on this chip (RuntimeProfile.frame_round_trips: an
    RPC per inference that queued frames cannot overlap), the longest that applies; 0 when none does."""
    if runtime is None:
        return 0.0
    trips = [t.round_trip_us for t in runtime.frame_round_trips
             if any(fnmatch.fnmatchcase(profile.id, pattern) for pattern in t.chips)]
    return max(trips, default=0.0) / 1e6
