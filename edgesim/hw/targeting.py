"""Which chips and units a runtime can drive, and the profile a run sees once a runtime is bound to it.

OpenVINO's NPU plugin on a chip without an NPU, QNN's HTP backend asked for fp16 on an int8-only Hexagon, RKNN
on a non-Rockchip part: the real tools refuse these, so edgesim does too (one line naming device, runtime and the
missing unit or precision) instead of silently running everything on the host CPU.
"""

from __future__ import annotations

import fnmatch
import numbers

from edgesim.errors import ProfileError
from edgesim.hw.family import unit_isa
from edgesim.hw.schema import DeviceClass, HardwareProfile, RuntimeProfile, UnitKind
from edgesim.hw.schema_version import RuntimeVersion


def _targeted_units(profile: HardwareProfile, runtime: RuntimeProfile) -> list[str]:
    kinds = {k.value for k in runtime.applies_to}
    classes = {t.value for t in runtime.targets}
    return [u.name for u in profile.units
            if u.kind.value in kinds and (not classes or u.device.value in classes)]


def _family_problem(profile: HardwareProfile, runtime: RuntimeProfile) -> str | None:
    """Why the runtime's compiler cannot drive the chip's accelerators (Vela on a Jetson's GPU, gapflow on an STM32):
    a unit it would place ops on is of another vendor's IP, or the chip has none of the families it compiles for."""
    if not runtime.unit_families:
        return None
    families = "/".join(f.value for f in runtime.unit_families)
    driven = [profile.unit(n) for n in _targeted_units(profile, runtime) if n != profile.host_unit]
    alien = [u for u in driven if u.unit_family not in runtime.unit_families]
    if alien:
        units = ", ".join(f"{u.name} is {u.unit_family.value if u.unit_family else 'of no declared unit_family'}"
                          for u in alien)
        return f"device {profile.id}, runtime {runtime.id}: the runtime compiles for {families} units only; {units}"
    if runtime.unit_family_required and not driven:
        units = ", ".join(f"{u.name} ({u.unit_family.value if u.unit_family else u.kind.value})" for u in profile.units)
        return (f"device {profile.id}, runtime {runtime.id}: the runtime compiles for {families} units; this chip has "
                f"none (units: {units})")
    return None


def _isa_problem(profile: HardwareProfile, runtime: RuntimeProfile) -> str | None:
    """Why the runtime's CPU kernels cannot run on the chip's CPU (ONNC's CMSIS-NN calls on an Xtensa, TFLite
    Micro on a Linux SoC's Cortex-A): a CPU unit it would place ops on executes an instruction set it is not
    built for, or declares none edgesim can read."""
    if not runtime.cpu_isas:
        return None
    allowed = [isa for support in runtime.cpu_isas for isa in support.isas]
    cpus = [u for u in map(profile.unit, _targeted_units(profile, runtime)) if u.kind is UnitKind.CPU]
    alien = [(u, isa) for u in cpus if (isa := unit_isa(profile, u)) not in allowed]
    if not alien:
        return None
    units = ", ".join(f"{u.name} is {isa.value}" if isa is not None else
                      f"{u.name} declares no isa and names no core edgesim knows" for u, isa in alien)
    return (f"device {profile.id}, runtime {runtime.id}: the runtime's kernels are built for "
            f"{'/'.join(dict.fromkeys(isa.value for isa in allowed))} CPUs only; {units}")


def runtime_fit_problem(profile: HardwareProfile, runtime: RuntimeProfile, version: RuntimeVersion | None = None
                        ) -> str | None:
    """Why ``runtime`` (its release ``version``, if given) cannot drive ``profile`` (one line naming both), or None
    when it can."""
    # Runtimes that declare no targets (the MCU-era profiles) keep running everything on the host when the chip
    # lacks their unit kind; issue #15 decides whether those are refused too.
    if runtime.targets and not _targeted_units(profile, runtime):
        wanted = "/".join(t.value for t in runtime.targets)
        kinds = "/".join(k.value for k in runtime.applies_to)
        units = ", ".join(f"{u.name} ({u.device.value}, {u.kind.value})" for u in profile.units)
        return (f"device {profile.id}, runtime {runtime.id}: no {wanted} unit on this chip of a kind it drives "
                f"({kinds}; units: {units})")
    if runtime.chip_kinds and profile.kind not in runtime.chip_kinds:
        kinds = "/".join(k.value for k in runtime.chip_kinds)
        return (f"device {profile.id}, runtime {runtime.id}: the runtime runs on {kinds} chips, this one is "
                f"{profile.kind.value}")
    if runtime.chips and not any(fnmatch.fnmatchcase(profile.id, c) for c in runtime.chips):
        return (f"device {profile.id}, runtime {runtime.id}: the runtime targets only "
                f"{', '.join(runtime.chips)}")
    family = _family_problem(profile, runtime) or _isa_problem(profile, runtime)
    if family is not None:
        return family
    # a chip vendor's build of the runtime (the Gecko SDK's TFLM) on another vendor's chip
    if version is not None and version.chips and not any(fnmatch.fnmatchcase(profile.id, c) for c in version.chips):
        return (f"device {profile.id}, runtime {runtime.id}@{version.version}: that release ships only for "
                f"{', '.join(version.chips)}")
    return None


def check_precision(profile: HardwareProfile, runtime: RuntimeProfile, precision: str) -> None:
    """Refuse a deployment precision none of the runtime's accelerator units has (e.g. fp16 on the int8-only
    Hexagon v68 HTP), for runtimes without a CPU target; CPU runtimes can always emulate a type."""
    if DeviceClass.CPU in runtime.targets or not runtime.targets:
        return
    units = [profile.unit(n) for n in _targeted_units(profile, runtime)]
    wanted = "int8" if precision == "int4" else precision
    declared = {p.value for p in runtime.precisions}
    for u in units:
        rates = {p.value for p, r in u.macs_per_cycle.items() if r > 0}
        if wanted in rates and (not declared or wanted in declared):
            return
    names = ", ".join(u.name for u in units)
    raise ProfileError(f"device {profile.id}, runtime {runtime.id}: unit {names} has no {precision} "
                       f"(op CONV2D/FULLY_CONNECTED at {precision} cannot be placed)")


def check_thread_count(threads: object) -> None:
    """A thread count is None (the runtime's default) or a whole number >= 1: 1.5 threads or True would be costed
    as a fraction of a core (and was a TypeError deeper down). Every door that takes --threads asks this."""
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, numbers.Integral)):
        raise ProfileError(f"must be a whole number of threads, got {threads!r}", field="threads")
    if threads is not None and threads < 1:
        raise ProfileError(f"threads must be >= 1, got {threads}", field="threads")


def bind_runtime(profile: HardwareProfile, runtime: RuntimeProfile | None,
                 threads: int | None = None, force: bool = False, version: RuntimeVersion | None = None
                 ) -> HardwareProfile:
    """The profile a run with ``runtime`` (release ``version``) sees: refused if the runtime cannot drive the chip
    (``runtime_fit_problem``); its accelerator
    narrowed to the cores the runtime uses by default (RKNN: one of RK3588's three); the host CPU narrowed to
    ``threads`` (TFLite/OpenVINO --threads N)."""
    check_thread_count(threads)
    if threads is not None:
        # More threads than cores is not a faster run but a question about another chip (as edgesim.llm refuses).
        little = profile.little_cluster.count if profile.little_cluster is not None else 0
        cores = profile.unit(profile.host_unit).count + little
        if threads > cores:
            raise ProfileError(f"{threads} threads on '{profile.id}', which has {cores} CPU "
                               f"core{'s' if cores != 1 else ''}", field="threads")
    if runtime is not None and runtime.max_threads is not None and threads is not None \
            and threads > runtime.max_threads:
        raise ProfileError(f"runtime {runtime.id} runs a model on at most {runtime.max_threads} thread"
                           f"{'s' if runtime.max_threads != 1 else ''}, got {threads} (the other cores stay idle)",
                           field="threads")
    if runtime is None:
        if threads is None:
            return profile
        units = [u.model_copy(update={"count": min(u.count, threads)}) if u.name == profile.host_unit else u
                 for u in profile.units]
        return profile if units == profile.units else profile.model_copy(update={"units": units})
    problem = runtime_fit_problem(profile, runtime, version)
    if problem is not None and not force:
        raise ProfileError(f"{problem}; --force runs it as a what-if", field="runtime")
    targeted = set(_targeted_units(profile, runtime))
    units = []
    for u in profile.units:
        count = u.count
        host_threads = threads if threads is not None else runtime.default_threads
        if u.name == profile.host_unit and host_threads is not None:
            count = min(count, host_threads)
        elif u.name in targeted and u.name != profile.host_unit and runtime.cores_used is not None:
            count = min(count, runtime.cores_used)
        units.append(u if count == u.count else u.model_copy(update={"count": count}))
    # The profile itself when nothing narrows: the driver's memos know it by identity.
    return profile if units == profile.units else profile.model_copy(update={"units": units})
