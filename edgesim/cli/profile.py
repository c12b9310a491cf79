"""``edgesim profile new|check|diff``: profiles for chips that are not on the market yet, and how sure they are."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from edgesim.cli.args import add_trust_arguments

_CHECK_MODEL = "kws_ref_model.tflite"


def cmd_new(args: argparse.Namespace) -> int:
    import yaml

    from edgesim.files import atomic_write_text
    from edgesim.hw.derive import NewChip, new_profile
    from edgesim.hw.uncertain import uncertain_fields

    chip_id = args.id or Path(args.output).stem
    chip = NewChip(family=args.like, id=chip_id, description=args.description or "", clock_mhz=args.clock_mhz,
                   sram_kb=args.sram_kb, flash_kb=args.flash_kb, npu_macs=args.npu_macs, dram_gbps=args.dram_gbps,
                   source=args.source)
    data, profile = new_profile(chip)
    header = (f"# {chip_id}: written by 'edgesim profile new --like {args.like}'. Numbers given on the command line "
              "carry their source;\n# every other number is the family template's, marked derived with the range "
              "a sister part may differ by.\n")
    atomic_write_text(args.output, header + yaml.safe_dump(data, sort_keys=False, width=110))
    fields = uncertain_fields(profile)
    derived = sum(f.derived for f in fields)
    print(f"wrote {args.output}: {profile.id} ({profile.kind.value}, {profile.clock_mhz:g} MHz), "
          f"{len(fields) - derived} given and {derived} derived numbers, "
          f"{sum(not f.exact for f in fields)} with ranges")
    return 0


def _unsourced_lines(path: Path) -> list[tuple[int, str]]:
    """Lines that set a plain number with no comment naming where it comes from."""
    out = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        m = re.match(r"\s*-?\s*([a-z_0-9]+):\s*(-?[0-9][0-9.e+-]*)\s*$", line)
        # the parts of an uncertain number ({value, rel, range}) are sourced by the mapping they sit in
        if m and m.group(1) not in ("value", "rel", "range"):
            out.append((i, f"{m.group(1)}: {m.group(2)}"))
    return out


def cmd_check(args: argparse.Namespace) -> int:
    from edgesim.errors import EdgesimError
    from edgesim.hw.loader import load_profile, profile_file
    from edgesim.hw.uncertain import display_path, uncertain_fields
    from edgesim.pipeline import RunSpec, run
    from edgesim.pipeline.intervals import check_confidence, format_range, interval, perturbed_runs

    confidence = check_confidence(args.confidence)
    if args.limit < 0:
        raise EdgesimError(f"--limit must be >= 0, got {args.limit}", field="limit")
    path = profile_file(args.file)  # a bundled id names its file in the bundled folder
    profile = load_profile(path)
    result = run(RunSpec(args.model, profile))  # first: a bad --model fails before any line is printed
    fields = uncertain_fields(profile)
    print(f"{path}: profile {profile.id} loads and validates ({len(profile.units)} units, "
          f"{len(profile.memories)} memories)")
    unsourced = _unsourced_lines(path)
    print(f"unsourced: {len(unsourced)} plain numbers with neither a source comment nor {{value, source}}")
    for line, text in unsourced[:args.limit]:
        print(f"  line {line}: {text}")
    if len(unsourced) > args.limit:
        print(f"  ... {len(unsourced) - args.limit} more")
    _, effects = perturbed_runs(result)
    swing = {e.field.path: (e.latency_s, e.energy_j) for e in effects}
    print(f"uncertain and derived fields ({len(fields)}), with the latency and energy swing each causes at its low / "
          f"high end on {args.model}:")
    for f in fields:
        rng = "exact" if f.exact else f"{f.lo:.4g}..{f.hi:.4g}"
        kind = "derived" + (" (default range)" if f.default_range else "") if f.derived else "given"
        s = swing.get(f.path)
        effect = "-"
        if s is not None:
            (lat_lo, lat, lat_hi), (en_lo, en, en_hi) = s
            effect = (f"t {lat_lo / lat - 1:+.1%}/{lat_hi / lat - 1:+.1%}  "
                      f"E {en_lo / en - 1:+.1%}/{en_hi / en - 1:+.1%}")
        print(f"  {display_path(profile, f.path):<44} {f.value:>10.4g} {rng:>20} {kind:<24} {effect:>32}  "
              f"{f.source[:50]}")
    iv = interval(result, confidence)
    lo, hi = iv.profile_latency_log
    print(f"interval on {args.model}: latency {format_range(iv.latency_s, confidence, 's')} (novelty "
          f"{iv.novelty.value}); the profile's ranges alone: {100 * (pow(2.718281828, lo) - 1):+.1f}% / "
          f"{100 * (pow(2.718281828, hi) - 1):+.1f}%")
    return 0


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(obj, list) and obj and all(isinstance(x, dict) and "name" in x for x in obj):
        for x in obj:  # named list items (units, memories, nodes) by name, not position
            out.update(_flatten(x, f"{prefix}[{x['name']}]"))
    else:
        out[prefix] = obj
    return out


def cmd_diff(args: argparse.Namespace) -> int:
    from edgesim.hw.loader import load_profile
    from edgesim.hw.uncertain import display_path, uncertain_fields

    a, b = load_profile(args.a), load_profile(args.b)
    fa, fb = _flatten(a.model_dump(mode="json")), _flatten(b.model_dump(mode="json"))
    ra = {display_path(a, f.path): f for f in uncertain_fields(a)}
    rb = {display_path(b, f.path): f for f in uncertain_fields(b)}
    print(f"{a.id} -> {b.id}")
    changed = 0
    for key in sorted(set(fa) | set(fb)):
        va, vb = fa.get(key, "(absent)"), fb.get(key, "(absent)")
        ua, ub = ra.get(key), rb.get(key)
        span_a = f" [{ua.lo:.4g}..{ua.hi:.4g}]" if ua is not None and not ua.exact else ""
        span_b = f" [{ub.lo:.4g}..{ub.hi:.4g}]" if ub is not None and not ub.exact else ""
        if va == vb and span_a == span_b:
            continue
        changed += 1
        ratio = ""
        if isinstance(va, int | float) and isinstance(vb, int | float) and va and not isinstance(va, bool):
            ratio = f"  (x{vb / va:.3g})"
        print(f"  {key:<56} {str(va)[:28]}{span_a} -> {str(vb)[:28]}{span_b}{ratio}")
    print(f"{changed} fields differ")
    return 0


def add_profile_parser(sub: Any) -> None:
    p = sub.add_parser("profile", help="write a profile for an unreleased chip, check one, or diff two")
    ps = p.add_subparsers(dest="profile_command", metavar="ACTION", required=True)
    new = ps.add_parser("new", help="a complete profile from a core/unit family template plus the numbers known")
    new.add_argument("--like", required=True, help="family: cortex-m4, cortex-m33, cortex-m55, ethos-u55, ...")
    new.add_argument("-o", "--output", required=True, help="the profile YAML to write")
    new.add_argument("--id", help="profile id (default: the output file's stem)")
    new.add_argument("--description", help="one line")
    new.add_argument("--clock-mhz", type=float, help="core clock")
    new.add_argument("--sram-kb", type=float, help="on-chip SRAM (KiB)")
    new.add_argument("--flash-kb", type=float, help="flash (KiB)")
    new.add_argument("--npu-macs", type=float, help="NPU int8 MACs per cycle")
    new.add_argument("--dram-gbps", type=float, help="DRAM bandwidth (GB/s)")
    new.add_argument("--source", default="user-supplied (announcement)", help="where the given numbers come from")
    new.set_defaults(func=cmd_new)
    chk = ps.add_parser("check", help="report unsourced, derived and uncertain fields and the interval they cause")
    chk.add_argument("file", help="hardware profile YAML (or bundled id)")
    chk.add_argument("--model", default=_CHECK_MODEL, help=f"model to measure widths on (default {_CHECK_MODEL})")
    chk.add_argument("--limit", type=int, default=20, help="unsourced lines to list (default 20)")
    add_trust_arguments(chk)
    chk.set_defaults(func=cmd_check)
    diff = ps.add_parser("diff", help="the fields two profiles differ in (ranges included)")
    diff.add_argument("a")
    diff.add_argument("b")
    diff.set_defaults(func=cmd_diff)
