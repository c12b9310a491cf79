"""Weight compression: int4 packing (two weights per byte) and Huffman coding of weight bytes.

Both annotate ``Tensor.encoding`` with the bytes really stored; the data itself stays unpacked integers so every
other pass and executor keeps working.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, replace

import numpy as np

from edgesim.errors import EdgesimError
from edgesim.ir import lowbit
from edgesim.ir.dtypes import DType
from edgesim.ir.graph import Graph
from edgesim.ir.ops import OpClass
from edgesim.ir.tensor import Tensor, WeightEncoding

# A simple table-driven Huffman decoder resolves one symbol (up to 8 code bits) per cycle.
DEFAULT_DECODE_BITS_PER_CYCLE = 8.0


def pack_int4(values: np.ndarray) -> np.ndarray:
    """Pack signed int4 values (-8..7), two per byte, low nibble first (as TFLite and CMSIS-NN do)."""
    v = np.asarray(values).ravel().astype(np.int16)
    if v.size and (v.min() < -8 or v.max() > 7):
        raise EdgesimError("int4 values must be in [-8, 7]", field="weights")
    if v.size % 2:
        v = np.append(v, 0)
    nib = (v & 0xF).astype(np.uint8)
    return (nib[0::2] | (nib[1::2] << 4)).astype(np.uint8)


def unpack_int4(packed: np.ndarray, count: int) -> np.ndarray:
    p = np.asarray(packed, np.uint8)
    nib = np.empty(p.size * 2, np.int16)
    nib[0::2] = p & 0xF
    nib[1::2] = p >> 4
    nib = np.where(nib >= 8, nib - 16, nib)
    return nib[:count].astype(np.int8)


@dataclass(frozen=True)
class HuffmanCode:
    lengths: dict[int, int]  # symbol (byte value) -> code length in bits
    codes: dict[int, int]  # symbol -> canonical code (MSB first)

    @property
    def table_bytes(self) -> int:
        # Canonical codes are rebuilt from one length per byte value present (symbol byte + length byte).
        return 2 * len(self.lengths)


def build_huffman(data: bytes | np.ndarray) -> HuffmanCode:
    """Canonical Huffman code for the byte values of ``data``."""
    arr = np.frombuffer(bytes(data), np.uint8) if isinstance(data, bytes) else np.asarray(data).view(np.uint8).ravel()
    counts = np.bincount(arr, minlength=256)
    symbols = [int(s) for s in np.nonzero(counts)[0]]
    if not symbols:
        return HuffmanCode({}, {})
    if len(symbols) == 1:
        lengths = {symbols[0]: 1}
    else:
        heap: list[tuple[int, int, list[int]]] = [(int(counts[s]), s, [s]) for s in symbols]
        heapq.heapify(heap)
        lengths = dict.fromkeys(symbols, 0)
        tie = 256
        while len(heap) > 1:
            c1, _, s1 = heapq.heappop(heap)
            c2, _, s2 = heapq.heappop(heap)
            for s in s1 + s2:
                lengths[s] += 1
            heapq.heappush(heap, (c1 + c2, tie, s1 + s2))
            tie += 1
    codes: dict[int, int] = {}
    code, prev_len = 0, 0
    for s in sorted(lengths, key=lambda k: (lengths[k], k)):
        code <<= lengths[s] - prev_len
        codes[s] = code
        prev_len = lengths[s]
        code += 1
    return HuffmanCode(lengths, codes)


def huffman_encode(data: bytes | np.ndarray, code: HuffmanCode | None = None) -> tuple[bytes, int, HuffmanCode]:
    """Encode byte values; returns (encoded bytes, number of valid bits, code)."""
    arr = np.frombuffer(bytes(data), np.uint8) if isinstance(data, bytes) else np.asarray(data).view(np.uint8).ravel()
    code = code or build_huffman(arr)
    bits: list[str] = [format(code.codes[int(b)], f"0{code.lengths[int(b)]}b") for b in arr]
    stream = "".join(bits)
    nbits = len(stream)
    padded = stream + "0" * (-nbits % 8)
    out = int(padded, 2).to_bytes(len(padded) // 8, "big") if padded else b""
    return out, nbits, code


def huffman_decode(encoded: bytes, nbits: int, code: HuffmanCode) -> bytes:
    lookup = {(code.lengths[s], c): s for s, c in code.codes.items()}
    stream = "".join(format(b, "08b") for b in encoded)[:nbits]
    out = bytearray()
    cur, length = 0, 0
    for ch in stream:
        cur = (cur << 1) | (ch == "1")
        length += 1
        s = lookup.get((length, cur))
        if s is not None:
            out.append(s)
            cur, length = 0, 0
    if length:
        raise EdgesimError("Huffman stream ends inside a code", field="weights")
    return bytes(out)


def huffman_encoded_bytes(data: bytes | np.ndarray) -> int:
    """Stored size in bytes of ``data`` under its own Huffman code, including the code table."""
    arr = np.asarray(data).view(np.uint8).ravel() if not isinstance(data, bytes) else np.frombuffer(data, np.uint8)
    code = build_huffman(arr)
    counts = np.bincount(arr, minlength=256)
    nbits = sum(int(counts[s]) * ln for s, ln in code.lengths.items())
    return (nbits + 7) // 8 + code.table_bytes


def _weight_tensors(graph: Graph) -> list[Tensor]:
    names: set[str] = set()
    for n in graph.nodes:
        if n.op.op_class is OpClass.MAC:
            names.update(n.inputs[i] for i in n.op.info.weight_inputs if i < len(n.inputs) and n.inputs[i])
            # MATMUL declares no weight position: an operand is a weight when it is constant.
            names.update(i for i in n.inputs if i and graph.tensors[i].is_const)
    return [graph.tensors[k] for k in sorted(names) if graph.tensors[k].data is not None]


def stored_bytes_of(t: Tensor) -> bytes:
    """The bytes a tensor occupies in memory before entropy coding (int4 packed two per byte)."""
    assert t.data is not None
    if t.dtype in (DType.INT4, DType.UINT4):
        return pack_int4(t.data).tobytes()
    if t.dtype.ml_name is not None:  # float8/float4/int2: their own codes, not the float32 they are held in
        return lowbit.storage_bytes(t.dtype, t.data)
    return np.ascontiguousarray(t.data.astype(t.dtype.numpy())).tobytes()


def pack_int4_weights(graph: Graph) -> Graph:
    """Mark int4 weights as stored two per byte."""
    tensors = dict(graph.tensors)
    for t in _weight_tensors(graph):
        if t.dtype in (DType.INT4, DType.UINT4):
            tensors[t.name] = replace(t, encoding=WeightEncoding("int4_packed", len(stored_bytes_of(t))))
    return graph.rebuild(tensors=tensors)


def huffman_compress(graph: Graph, decode_bits_per_cycle: float = DEFAULT_DECODE_BITS_PER_CYCLE) -> Graph:
    """Huffman-code each weight tensor's stored bytes; keep the encoding only where it is smaller."""
    if decode_bits_per_cycle <= 0:
        raise EdgesimError(f"must be positive, got {decode_bits_per_cycle}", field="decode_bits_per_cycle")
    tensors = dict(graph.tensors)
    for t in _weight_tensors(graph):
        raw = stored_bytes_of(t)
        size = huffman_encoded_bytes(raw)
        if size < len(raw):
            tensors[t.name] = replace(t, encoding=WeightEncoding("huffman", size, decode_bits_per_cycle))
        elif t.dtype in (DType.INT4, DType.UINT4):
            tensors[t.name] = replace(t, encoding=WeightEncoding("int4_packed", len(raw)))
    return graph.rebuild(tensors=tensors)


def compression_summary(graph: Graph) -> dict[str, int]:
    """Total weight bytes by dense storage (``nbytes``) and as stored (``stored_bytes``)."""
    ws = _weight_tensors(graph)
    return {"dense_bytes": sum(t.nbytes for t in ws), "stored_bytes": sum(t.stored_nbytes for t in ws)}
