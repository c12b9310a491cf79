"""The named choices of the transformations (no heavy imports: the CLI builds its flags from them)."""

from __future__ import annotations

from enum import StrEnum


class QuantPreset(StrEnum):
    """The post-training quantization presets (the one list: CLI choices, sweeps and NAS read it from here)."""

    INT8 = "int8"
    W4A8 = "w4a8"
    W4A4 = "w4a4"
    INT16 = "int16"
    FP16 = "fp16"


class Compression(StrEnum):
    """How weights are stored: one per byte, int4 packed two per byte, or Huffman-coded bytes (packs int4 too)."""

    NONE = "none"
    INT4 = "int4"
    HUFFMAN = "huffman"
