"""Fidelity audit: the int8 MACs/cycle our profiles and runtime efficiencies imply, against what the kernel
libraries and the cores' vector/DSP extensions publish (issue #18), and published end-to-end latencies of chips
with no MLPerf Tiny rows.

    python -m edgesim.validate.fidelity_audit            # print the audit
    python -m edgesim.validate.fidelity_audit --write    # regenerate docs/fidelity.md (tests check it is current)

An implied figure is ``unit.macs_per_cycle[int8] x unit.count x kernel_efficiency(runtime, release, op, unit)``,
the very lookup both cost paths use (``edgesim.mapping.compute.kernel_efficiency``); "peak" entries leave the
runtime out. Each entry states how it must relate to its cited figure (equal within a tolerance, at most, at
least); ``tests/unit/test_fidelity_audit.py`` pins every one.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path


@dataclass(frozen=True)
class AuditEntry:
    family: str  # the extension audited, e.g. "Armv7E-M DSP (Cortex-M4)"
    profile: str
    unit: str
    runtime: str | None  # "id@version"; None = the unit's peak
    op: str  # kernel key (CONV2D, CONV2D_1X1, ...) or "peak"
    cited: float  # int8 MACs/cycle the source gives or implies
    relation: str  # "equal" (within tolerance), "at_most" or "at_least"
    tolerance: float  # relative
    source: str
    finding: str


@dataclass(frozen=True)
class RatioEntry:
    """A published speedup between two cores: implied MACs/cycle of ``a`` over ``b`` (same runtime and op)."""

    family: str
    a: AuditEntry
    b: AuditEntry
    cited_lo: float
    cited_hi: float
    source: str
    finding: str


@dataclass(frozen=True)
class PublishedLatency:
    """A published end-to-end latency on a chip the validation rows do not cover (held out: nothing was fitted)."""

    model: str  # reference_spec model: zoo name with options, e.g. mobilenet_v2:alpha=0.3@80
    profile: str
    runtime: str
    measured_ms: float
    tolerance: float
    source: str
    note: str
    threads: int | None = None  # CPU threads of the run (None: all host cores)


@dataclass(frozen=True)
class ThreadScaling:
    """Published n-thread over 1-thread speedups of a CPU runtime against the runtime's thread_scaling."""

    runtime: str
    threads: int
    speedups: tuple[float, ...]  # one per published network
    source: str
    note: str

    def implied(self) -> float:
        from edgesim.hw.loader import load_runtime

        runtime, _ = load_runtime(self.runtime, note_missing_version=False)
        return 1.0 + (self.threads - 1) * runtime.thread_scaling


CMSIS_NN = "https://github.com/ARM-software/CMSIS-NN Source/NNSupportFunctions/arm_nn_mat_mult_nt_t_s8.c"
HW_SPECS = "../shared/reference/hw_specs.md (Cortex-M4 TRM: SMLAD, single cycle)"
HELIUM = "https://fuse.wikichip.org/news/3319/arms-new-cortex-m55-breathes-helium/ (dual-beat: 64 bits/cycle)"
PULP_NN = "Garofalo et al., PULP-NN, arXiv:1908.11263: up to 15.5 int8 MACs/cycle on 8 Xpulp cores"
PLUMERAI = "https://blog.plumerai.com/2021/10/cortex-m-inference-software/ (STM32F746G-Discovery, 216 MHz)"

ENTRIES: tuple[AuditEntry, ...] = (
    AuditEntry("Armv7E-M DSP (Cortex-M4)", "stm32l4r5", "cpu", None, "peak", 2.0, "equal", 0.0, HW_SPECS,
               "SMLAD: two 16x16 MACs per single-cycle instruction; int8 is widened first (SXTB16)"),
    AuditEntry("Armv8-M DSP (Cortex-M33)", "stm32u575", "cpu", None, "peak", 2.0, "equal", 0.0, HW_SPECS,
               "same DSP extension as the M4"),
    AuditEntry("Armv7E-M DSP (Cortex-M7)", "stm32h7a3", "cpu", None, "peak", 2.0, "equal", 0.0, HW_SPECS,
               "dual issue pairs loads with SMLAD but there is one MAC pipe: still 2 MACs/cycle"),
    AuditEntry("Armv7E-M DSP (Cortex-M4)", "stm32l4r5", "cpu", "tflm@2.11.0", "CONV2D_1X1", 0.8, "at_most", 0.0,
               CMSIS_NN, "CMSIS-NN's s8 GEMM inner loop does 16 MACs in 20 instructions (8 SMLAD, 8 SXTB16, 4 LDR): "
               "<= 0.8 MAC/cycle on a single-issue core before im2col, requantisation and per-layer overhead"),
    AuditEntry("Armv7E-M DSP (Cortex-M4)", "stm32l4r5", "cpu", "x-cube-ai@10.2.0", "CONV2D_1X1", 2.0, "at_most",
               0.0, "MLPerf Tiny x-cube-ai rows (fitted; docs/validation.md)",
               "ST's own kernels, not CMSIS-NN: 1.5x CMSIS-NN's inner-loop bound, as the VWW rows (mostly 1x1 convs) "
               "need; reachable with weights pre-widened to int16 offline and wider output tiles"),
    AuditEntry("Armv7E-M DSP (Cortex-M7)", "stm32f746", "cpu", "tflm@2.11.0", "CONV2D_1X1", 1.6, "at_most", 0.0,
               CMSIS_NN, "dual issue hides the 12 non-MAC instructions at best: >= 10 cycles per 16 MACs"),
    AuditEntry("Armv8.1-M Helium (Cortex-M55)", "ethos-u55-128", "cpu", None, "peak", 8.0, "equal", 0.0, HELIUM,
               "128-bit VMLADAV over 16 int8 lanes in two beats per cycle"),
    AuditEntry("Armv8.1-M Helium (Cortex-M85)", "ra8d1", "cpu", None, "peak", 8.0, "equal", 0.0, HELIUM,
               "the M85 implements Helium dual-beat as the M55 (the M52 is the single-beat part)"),
    AuditEntry("Armv8.1-M Helium (Cortex-M85), int16", "ra8d1", "cpu", None, "peak_int16", 4.0, "equal", 0.0,
               HELIUM, "was 8 (int8's rate): an int16 VMLADAV has 8 lanes, half the int8 MACs per beat"),
    AuditEntry("GAP9 cluster (Xpulp SIMD)", "gap9", "cpu", None, "peak", 32.0, "equal", 0.0,
               "PULP RI5CY/Xpulp: pv.sdotsp.b, 4 int8 MACs per cycle per core, 8 worker cores",
               "the 9th core dispatches; 8 x 4 MACs/cycle"),
    AuditEntry("GAP9 cluster (Xpulp SIMD)", "gap9", "cpu", "gapflow@1.0", "CONV2D", 15.5, "equal", 0.05, PULP_NN,
               "was 32 (the fitted NE16 efficiency 1.0 applied to the cores too); now PULP-NN's 0.484 of peak"),
    AuditEntry("GAP9 NE16", "gap9", "ne16", "gapflow@1.0", "CONV2D", 54.9, "at_least", 0.0,
               "MLPerf Tiny v1.0 GreenWaves: ResNet-8 (12.5 M MACs) in 0.949 ms at 240 MHz = 54.9 MACs/cycle "
               "over the whole network", "NE16's conv rate must exceed the network average the row implies"),
)

# Arm application cores (fid-cpu): the int8 peak per core against the core's software optimisation guide, and
# XNNPACK's kernel efficiency x its int8 path scale (tflite-xnnpack.yaml int8_isa_scale) against the inner loop of
# the microkernel XNNPACK selects for the core (src/configs/gemm-config.c), the bound the efficiency must stay under.
A55_SWOG = ("Cortex-A55 Software Optimization Guide sec. 4.15, as llvm/lib/Target/AArch64/AArch64SchedA55.td encodes "
            "it: [SU]DOTv8i8 takes one of the two 64-bit ASIMD pipes, [SU]DOTv16i8 both")
A53_NEON = ("llvm/lib/Target/AArch64/AArch64SchedA53.td (64-bit ASIMD datapath, Q-form ops hold the pipe two "
            "cycles); XNNPACK src/qs8-gemm/4x16-aarch64-neon-mlal-lane-cortex-a53.S.in (SMLAL by lane, 4H sources)")
XNN = "google/XNNPACK src/configs/gemm-config.c (Linux AArch64 QS8/QC8W GEMM selection) and src/qs8-gemm/"
XNN_RT = "tflite-xnnpack@2.16.1"
ARM_A_ENTRIES: tuple[AuditEntry, ...] = (
    AuditEntry("Armv8.2 dotprod (Cortex-A55)", "rk3566", "cpu", None, "peak", 4 * 16.0, "equal", 0.0, A55_SWOG,
               "was 8/core (half a Q-form SDOT per cycle, an 'effective' rate); now the SWOG's 16: one Q-form SDOT "
               "(16 MACs) or two D-form (8 each) per cycle; no runtime fitted on measured rows runs int8 MACs on an "
               "A55, so nothing was compensated"),
    AuditEntry("Armv8.2 dotprod (Cortex-A55)", "imx93", "cpu", None, "peak", 2 * 16.0, "equal", 0.0, A55_SWOG,
               "the i.MX 93's two A55s (rk3588/qcs6490 LITTLE clusters and vs640 likewise)"),
    AuditEntry("Armv8.0 NEON (Cortex-A53)", "imx8mp", "cpu", None, "peak", 4 * 4.0, "equal", 0.0, A53_NEON,
               "no SDOT: SMLAL by lane, 4 int32-accumulated MACs, once a cycle (D sources); eIQ's 1-thread ResNet-50 "
               "row runs 2.7 MACs/cycle, above the 2 a two-cycle SMLAL would allow"),
    AuditEntry("Armv8.0 NEON (Cortex-A53)", "coral-edgetpu", "cpu", None, "peak", 4 * 4.0, "equal", 0.0, A53_NEON,
               "was 8/core (SMLAL's int16-accumulating 8B form, which needs a SADALP per 2 products); now as imx8mp"),
    AuditEntry("Armv8.0 NEON (Cortex-A53), XNNPACK", "imx8mp", "cpu", XNN_RT, "CONV2D", 4 * 4.0 * 0.81, "at_most",
               0.0, XNN + "4x16-aarch64-neon-mlal-lane-cortex-a53.S.in",
               "main loop: 128 SMLAL/SMLAL2 + 20 SXTL + 10 INS per 512 MACs on the one NEON pipe = 0.81 of peak"),
    AuditEntry("Armv8.2 dotprod (Cortex-A55), XNNPACK", "rk3566", "cpu", XNN_RT, "CONV2D", 4 * 16.0 * 0.8,
               "at_most", 0.0, XNN + "4x16c4-aarch64-neondot-cortex-a55.S.in",
               "main loop: 64 SDOT + 16 INS per 1024 MACs issued in order (64-bit loads pair with them) = 0.8"),
    AuditEntry("Armv8.2 dotprod (Cortex-A76), XNNPACK", "rpi5", "cpu", XNN_RT, "CONV2D", 4 * 32.0, "at_most", 0.0,
               XNN + "4x16c4-aarch64-neondot-ld128.S.in",
               "main loop: 64 SDOT per 1024 MACs on two pipes, 13 loads beside them = 1.0 of peak"),
    AuditEntry("Armv8.0 NEON (Cortex-A72), XNNPACK", "rpi4", "cpu", XNN_RT, "CONV2D", 4 * 8.0, "at_most", 0.0,
               XNN + "2x8c8-aarch64-neon-mlal.S.in",
               "main loop: 16 SMULL + 16 SMLAL2 per 256 MACs on F0, 16 SADALP on F1 = 1.0 of the 8/cycle peak"),
    AuditEntry("Armv9 i8mm (Cortex-X4/A720), XNNPACK", "snapdragon-8-gen3", "cpu", XNN_RT, "CONV2D",
               6 * 40.0 * 2, "at_most", 0.0,
               XNN.replace("src/qs8-gemm/", "src/qs8-qc8w-gemm/gen/qs8-qc8w-gemm-4x16c8-minmax-fp32-neoni8mm.c"),
               "main loop: 32 SMMLA (32 MACs each) + 16 weight loads per 1024 MACs: twice the SDOT rate the "
               "profile states, at SDOT's issue rate"),
)

# Families other helpers own (edge SoCs and NPU hosts): the ISA peak per core against the profile. "equal" rows
# are pinned like the MCU ones; a "recommend" row is a finding for the owner, not a test (docs/fidelity.md).
A_SWOG = "Arm Software Optimization Guide of the core (SDOT Q-form: 16 int8 MACs per instruction)"
OTHER_ENTRIES: tuple[AuditEntry, ...] = (
    AuditEntry("Armv8.2 dotprod (Cortex-A76)", "rpi5", "cpu", None, "peak", 4 * 32.0, "equal", 0.0,
               "../shared/reference/hw_specs.md: 2x 128-bit ASIMD pipes with SDOT = 32 int8 MACs/cycle/core",
               "4 cores x 2 SDOT/cycle x 16 MACs"),
    AuditEntry("Armv8.2 dotprod (Cortex-A78)", "qcs6490", "cpu", None, "peak", 4 * 32.0, "equal", 0.0, A_SWOG,
               "A78 keeps the A76's two 128-bit SDOT pipes (no I8MM; SMMLA would double it on Armv8.6+ cores)"),
    *ARM_A_ENTRIES,
    AuditEntry("AVX-512 VNNI (Willow Cove)", "core-i7-1185gre", "cpu", None, "peak", 4 * 64.0, "equal", 0.0,
               "VPDPBUSD zmm: 64 int8 MACs, one 512-bit FMA port on client parts", "4 cores x 64"),
    AuditEntry("RISC-V V 1.0 (C908, VLEN 128)", "k230", "cpu", None, "peak", 16.0, "equal", 0.0,
               "../shared/reference/npu_specs.md: C908 RVV 1.0 with a 128-bit vector unit (16 int8 lanes)",
               "one 128-bit vector MAC per cycle"),
    AuditEntry("ESP32-S3 PIE (Xtensa LX7)", "esp32-s3", "cpu", None, "peak", 32.0, "equal", 0.0,
               "ESP32-S3 TRM, PIE: EE.VMULAS.S8 multiplies 16 int8 lanes of a 128-bit register",
               "two cores x 16 lanes (ESP-DL runs a model on one unless threads=2: esp-dl.yaml default_threads)"),
)

# Intel x86 int8 paths of the OpenVINO CPU plugin's devices (npu-ov; issue #17/#18). Without VNNI an int8 dot
# product is VPMADDUBSW (u8 x s8 pairs summed into saturating int16) + VPMADDWD + VPADDD to reach int32: three
# instructions per vector of MACs, and the int16 saturation OpenVINO's CPU doc warns about on non-VNNI parts;
# VNNI's VPDPBUSD does the same in one (zmm on AVX-512 VNNI, ymm on AVX-VNNI).
OV_CPU_DOC = ("https://docs.openvino.ai/2022.3/openvino_docs_OV_UG_supported_plugins_CPU.html (non-VNNI "
              "u8/i8 saturation); uops.info VPDPBUSD/VPMADDUBSW throughputs")
OV_DATA = "npu_vendor.csv (OpenVINO benchmark data): ResNet-50 int8 (4.09 GMAC) latency"
X86_ENTRIES: tuple[AuditEntry, ...] = (
    AuditEntry("SSE4.2 PMADDUBSW, no VNNI (Tremont)", "atom-x6425e", "cpu", None, "peak",
               round(4 * 16 * 2 / 3, 1), "at_most", 0.0, OV_CPU_DOC,
               "4 cores x 16 MACs per 128-bit PMADDUBSW, 3 instructions per 16 MACs on 2 vector ports: <= 10.7 "
               "per core; the profile's 8 per core"),
    AuditEntry("AVX-512 VNNI (Willow Cove, 2 cores)", "celeron-6305e", "cpu", None, "peak", 2 * 64.0, "equal",
               0.0, "VPDPBUSD zmm: 64 int8 MACs, one 512-bit FMA port on client parts", "2 cores x 64"),
    AuditEntry("AVX-512 VNNI (Willow Cove), OpenVINO convs", "celeron-6305e", "cpu", "openvino-cpu@2024.3",
               "CONV2D", round(4.09e9 / 19.86e-3 / 1.8e9, 1), "recommend", 0.0, f"{OV_DATA} 19.86 ms at 1.8 GHz",
               "ResNet-50 runs at 89% of the VNNI peak over the whole network; the even-line fit across networks "
               "keeps the conv efficiency at 0.74, so ResNet-50 stays 7-20% slow (MobileNet/YOLO rows prefer it)"),
    AuditEntry("AVX-VNNI (Redwood Cove P-cores)", "core-ultra-7-165h", "cpu", None, "peak", 6 * 64.0, "equal", 0.0,
               "VPDPBUSD ymm on ports 0 and 1: 2 x 32 int8 MACs per cycle", "6 P-cores x 64 (E-cores apart)"),
    AuditEntry("AVX-VNNI (Redwood Cove P-cores), OpenVINO convs", "core-ultra-7-155h", "cpu",
               "openvino-cpu@2024.6", "CONV2D", round(4.09e9 / 6.25e-3 / 3.0e9, 1), "at_least", 0.0,
               f"{OV_DATA} 6.25 ms at 3.0 GHz on six P-cores (graph-data-ov.json)",
               "the conv kernel rate must reach the network average (the 2024.6 release constant included)"),
    AuditEntry("AVX-VNNI (Lion Cove P-cores)", "core-ultra-9-288v", "cpu", None, "peak", 4 * 64.0, "equal", 0.0,
               "VPDPBUSD ymm on two ports, as Redwood Cove", "4 P-cores x 64"),
)

RATIOS: tuple[RatioEntry, ...] = (
    RatioEntry("Helium vs DSP extension", replace(ENTRIES[3], profile="ra8d1", family="Helium"), ENTRIES[3],
               4.0, 5.0, "https://community.arm.com/arm-research/b/articles/posts/making-helium-why-not-just-add-"
               "neon: goal 4x for a 2x wider datapath, beaten on many ML kernels",
               "same CMSIS-NN release on an M85 vs an M4, per cycle"),
    # XNNPACK's int8 path scale (tflite-xnnpack.yaml int8_isa_scale) against the ratio of the two microkernels'
    # main-loop MAC rates: 4x16c4 neondot ld128 on an A76 (32/cycle) over 4x16 mlal-lane on an A53 (0.81 x 4).
    RatioEntry("XNNPACK SDOT (A76) vs SMLAL (A53) kernels",
               next(e for e in ARM_A_ENTRIES if e.profile == "rpi5"),
               next(e for e in ARM_A_ENTRIES if e.profile == "imx8mp" and e.runtime), 9.5, 10.0,
               XNN + "4x16c4-aarch64-neondot-ld128.S.in, 4x16-aarch64-neon-mlal-lane-cortex-a53.S.in: 32 / (0.81 x 4) "
               "= 9.9x per core-cycle (derived from the main loops, not a published benchmark)",
               "per core and cycle, same efficiency table"),
)

XNN_README = ("https://github.com/google/XNNPACK README.md, Raspberry Pi table (end2end-bench, Feb 8 2022, INT8 "
              "per-channel, multi-threaded)")
THREADS: tuple[ThreadScaling, ...] = (
    ThreadScaling(XNN_RT, 4, (3.19, 2.94, 2.63, 2.33),
                  "https://github.com/google/XNNPACK README.md, Mobile phones tables (end2end_bench, March 2020): "
                  "Pixel 2, 4x Cortex-A73 big cores, FP32 MobileNet v1/v2/v3-Large/v3-Small, 1 vs 4 threads",
                  "an out-of-order 4-core cluster as the Pi 4/5's; thread_scaling 0.63 was fitted on i.MX 8M Plus "
                  "(in-order A53) eIQ rows"),
)

PUBLISHED: tuple[PublishedLatency, ...] = (
    PublishedLatency("mobilenet_v2:alpha=0.3@80", "stm32f746", "tflm@2.5.0", 129.0, 0.10, PLUMERAI,
                     "TFLM 2.5 with CMSIS-NN"),
    PublishedLatency("mobilenet_v2:alpha=0.3@80", "stm32f746", "x-cube-ai@7.1.0", 103.0, 0.10, PLUMERAI,
                     "X-CUBE-AI of 2021 (7.0; the nearest modelled release is 7.1)"),
    PublishedLatency("mobilenet_v2:alpha=0.3@80", "stm32f746", "plumerai@2022", 77.0, 0.10, PLUMERAI,
                     "Plumerai's engine of 2021 (the modelled base release)"),
    PublishedLatency("mobilenet_v1", "rpi4", XNN_RT, 24.0, 0.40, XNN_README,
                     "RPi 4 (BCM2711, ARM64), 4 threads; XNNPACK alone (no TFLite interpreter)", threads=4),
    PublishedLatency("mobilenet_v2", "rpi4", XNN_RT, 17.0, 0.40, XNN_README,
                     "RPi 4 (BCM2711, ARM64), 4 threads; XNNPACK alone (no TFLite interpreter)", threads=4),
)


def implied_macs_per_cycle(entry: AuditEntry) -> float:
    """What the bundled profile and runtime give for the entry's unit and op (int8 MACs per unit-clock cycle)."""
    from edgesim.hw.loader import load_profile, load_runtime
    from edgesim.hw.schema import Precision
    from edgesim.mapping.compute import int8_isa_scale, kernel_efficiency

    unit = load_profile(entry.profile).unit(entry.unit)
    precision = Precision.INT16 if entry.op == "peak_int16" else Precision.INT8
    peak = unit.macs_per_cycle[precision] * unit.count
    if entry.runtime is None:
        return peak
    runtime, version = load_runtime(entry.runtime, note_missing_version=False)
    isa = int8_isa_scale(runtime, unit, entry.op) if precision is Precision.INT8 else 1.0
    return peak * kernel_efficiency(runtime, version, entry.op, unit) * isa


def holds(entry: AuditEntry, implied: float) -> bool:
    tol = entry.tolerance * entry.cited + 1e-9
    if entry.relation in ("equal", "recommend"):
        return abs(implied - entry.cited) <= tol
    if entry.relation == "at_most":
        return implied <= entry.cited + tol
    return implied >= entry.cited - tol


def published_prediction_ms(p: PublishedLatency) -> float:
    from edgesim.pipeline import run
    from edgesim.validate.core import reference_spec

    spec = replace(reference_spec(p.model, "int8"), hw=p.profile, runtime=p.runtime, threads=p.threads)
    return run(spec).estimate.latency_s * 1e3


def _entry_table(entries: Sequence[AuditEntry]) -> list[str]:
    out = ["| extension | profile.unit | runtime, op | implied MAC/cycle | cited | relation | holds | finding |",
           "|---|---|---|---|---|---|---|---|"]
    for e in entries:
        v = implied_macs_per_cycle(e)
        rel = {"equal": f"= +-{e.tolerance:.0%}", "at_most": "<=", "at_least": ">=", "recommend": "recommend"}
        status = "yes" if holds(e, v) else "differs" if e.relation == "recommend" else "**no**"
        out.append(f"| {e.family} | {e.profile}.{e.unit} | {e.runtime or '-'}, {e.op} | {v:.3g} | {e.cited:g} | "
                   f"{rel[e.relation]} | {status} | {e.finding} ({e.source}) |")
    return out


def report() -> str:
    """The audit as markdown tables (docs/fidelity.md's generated block)."""
    out = _entry_table(ENTRIES)
    out += ["", "Other helpers' families (edge SoC CPUs, NPU hosts):", ""]
    out += _entry_table(OTHER_ENTRIES)
    out += ["", "Intel x86 int8 paths (OpenVINO CPU plugin devices):", ""]
    out += _entry_table(X86_ENTRIES)
    out += ["", "| speedup | implied | cited | source |", "|---|---|---|---|"]
    for r in RATIOS:
        ratio = implied_macs_per_cycle(r.a) / implied_macs_per_cycle(r.b)
        out.append(f"| {r.family}: {r.a.profile} / {r.b.profile}, {r.a.runtime} {r.a.op} | {ratio:.2f}x | "
                   f"{r.cited_lo:g}-{r.cited_hi:g}x | {r.source} |")
    out += ["", "| runtime | threads | implied speedup | published speedups | source |", "|---|---|---|---|---|"]
    for s in THREADS:
        pub = ", ".join(f"{v:.2f}" for v in s.speedups)
        out.append(f"| {s.runtime} | {s.threads} | {s.implied():.2f}x | {pub} | {s.note} ({s.source}) |")
    out += ["", "| model | chip | runtime | threads | published ms | edgesim ms | error | note |",
            "|---|---|---|---|---|---|---|---|"]
    for p in PUBLISHED:
        pred = published_prediction_ms(p)
        out.append(f"| {p.model} | {p.profile} | {p.runtime} | {p.threads or 'all'} | {p.measured_ms:g} | "
                   f"{pred:.1f} | {pred / p.measured_ms - 1:+.1%} | {p.note} ({p.source}) |")
    return "\n".join(out)


DOC = Path(__file__).resolve().parents[2] / "docs" / "fidelity.md"
BEGIN, END = "<!-- fidelity-audit:begin -->", "<!-- fidelity-audit:end -->"


def write_doc(path: Path = DOC) -> Path:
    """Replace the generated block of docs/fidelity.md with ``report()``."""
    text = path.read_text(encoding="utf-8")
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    path.write_text(f"{head}{BEGIN}\n{report()}\n{END}{tail}", encoding="utf-8")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--write" in args:
        print(f"wrote {write_doc()}", file=sys.stderr)
    else:
        print(report())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
