"""SCALE-Sim's vocabulary of a systolic array: dataflows, a conv layer in its terms, its memory names.

Both the SCALE-Sim frontend (which turns a .cfg into a profile and a topology into a graph) and the mapping
(which follows SCALE-Sim's memory semantics on such profiles) speak it, so it lives below both.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgesim.errors import MappingError

DATAFLOWS = ("os", "ws", "is")


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class SystolicLayer:
    """One conv layer in SCALE-Sim's terms (no padding: SCALE-Sim topologies give the padded ifmap).

    SCALE-Sim rounds the output size up, ceil((H - R) / stride) + 1, so a stride that does not divide H - R
    gets one extra (partial-window) output row; the shared v3 reference rows confirm this (12x12, 5x5, stride 3
    -> 4x4 ofmap), so we follow it rather than the framework floor.
    """

    ifmap_h: int
    ifmap_w: int
    filter_h: int
    filter_w: int
    channels: int
    num_filters: int
    stride_h: int = 1
    stride_w: int = 1

    def __post_init__(self) -> None:
        for name in ("ifmap_h", "ifmap_w", "filter_h", "filter_w", "channels", "num_filters", "stride_h",
                     "stride_w"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise MappingError(f"systolic layer {name} must be a positive integer, got {value!r}",
                                   field=name)
        if self.filter_h > self.ifmap_h or self.filter_w > self.ifmap_w:
            raise MappingError(
                f"filter {self.filter_h}x{self.filter_w} larger than ifmap {self.ifmap_h}x{self.ifmap_w}",
                field="filter_h")

    @property
    def ofmap_h(self) -> int:
        return ceil_div(self.ifmap_h - self.filter_h, self.stride_h) + 1

    @property
    def ofmap_w(self) -> int:
        return ceil_div(self.ifmap_w - self.filter_w, self.stride_w) + 1

    @property
    def ofmap_px(self) -> int:
        return self.ofmap_h * self.ofmap_w

    @property
    def window(self) -> int:
        return self.filter_h * self.filter_w * self.channels

    @property
    def macs(self) -> int:
        return self.ofmap_px * self.window * self.num_filters


    @property
    def ifmap_elems(self) -> int:
        return self.ifmap_h * self.ifmap_w * self.channels

    @property
    def filter_elems(self) -> int:
        return self.window * self.num_filters

    @property
    def ofmap_elems(self) -> int:
        return self.ofmap_px * self.num_filters

    @classmethod
    def from_conv(
        cls,
        input_hw: tuple[int, int],
        kernel_hw: tuple[int, int],
        in_channels: int,
        out_channels: int,
        stride_hw: tuple[int, int] = (1, 1),
        padding_hw: tuple[int, int] = (0, 0),
    ) -> SystolicLayer:
        """From a framework conv; ``padding_hw`` is the total (both sides) padding, folded into the ifmap size.

        Frameworks floor the output size; the ifmap is trimmed to the rows/cols the windows actually touch so
        that SCALE-Sim's ceil rule gives the same output size.
        """
        out_h = (input_hw[0] + padding_hw[0] - kernel_hw[0]) // stride_hw[0] + 1
        out_w = (input_hw[1] + padding_hw[1] - kernel_hw[1]) // stride_hw[1] + 1
        return cls(
            ifmap_h=(out_h - 1) * stride_hw[0] + kernel_hw[0],
            ifmap_w=(out_w - 1) * stride_hw[1] + kernel_hw[1],
            filter_h=kernel_hw[0],
            filter_w=kernel_hw[1],
            channels=in_channels,
            num_filters=out_channels,
            stride_h=stride_hw[0],
            stride_w=stride_hw[1],
        )


# SCALE-Sim's three double-buffered SRAMs, in operand order.
SCALESIM_SRAMS = ("ifmap_sram", "filter_sram", "ofmap_sram")
# SCALE-Sim's per-operand DRAM read interfaces (ifmap, filter); without them both streams share the DRAM port.
SCALESIM_READ_PORTS = ("dram_ifmap", "dram_filter")
# A DRAM port at least this wide (words/cycle) stands for SCALE-Sim's CALC bandwidth mode (sized to demand).
CALC_BW_WORDS_PER_CYCLE = 1024.0
