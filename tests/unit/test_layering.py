"""Packages import only downward: every import in every module (lazy ones inside functions included) is checked
against the layer order below, so no cycle can form and the pipeline driver stays the one place the stages meet.

Also: no ``unittest.mock`` and no private (``_name``) imports across packages in production code.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "edgesim"

# Lowest first. A package may import its own modules and anything in a lower layer; packages sharing a layer
# do not import each other.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"errors"}),
    frozenset({"files"}),
    frozenset({"ir"}),
    frozenset({"hw"}),
    frozenset({"kernels", "zoo"}),
    frozenset({"frontends"}),
    frozenset({"passes"}),
    frozenset({"mapping"}),
    frozenset({"cost"}),
    frozenset({"sim"}),
    frozenset({"report"}),
    frozenset({"pipeline"}),  # the one driver
    frozenset({"thermal"}),  # sustained runs: the thermal loop over the driver's runs
    frozenset({"explore", "validate", "llm"}),  # applications on top of the driver (llm's chat heats via thermal)
    frozenset({"api"}),
    frozenset({"cli"}),  # the doors
    frozenset({"__main__", "__init__"}),  # entry point; the package root re-exports the API lazily
)
LAYER_OF = {name: i for i, group in enumerate(LAYERS) for name in group}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _package_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imports(path: Path) -> list[tuple[int, str, tuple[str, ...]]]:
    """(line, imported edgesim module, imported names) of every import statement, nested ones included."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: list[tuple[int, str, tuple[str, ...]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module, tuple(a.name for a in node.names)))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name, ()) for a in node.names]
    return out


def _target(module: str, names: tuple[str, ...]) -> str | None:
    parts = module.split(".")
    if parts[0] != "edgesim":
        return None
    if len(parts) == 1:  # 'from edgesim import zoo' names a package
        return names[0] if len(names) == 1 and names[0] in LAYER_OF else "__init__"
    return parts[1]


def test_every_package_has_a_layer() -> None:
    packages = {_package_of(p) for p in _modules()}
    assert packages <= set(LAYER_OF), sorted(packages - set(LAYER_OF))


def test_imports_only_point_down() -> None:
    bad = []
    for path in _modules():
        src = _package_of(path)
        for line, module, names in _imports(path):
            dst = _target(module, names)
            if dst is None or dst == src:
                continue
            if dst not in LAYER_OF or LAYER_OF[dst] >= LAYER_OF[src]:
                bad.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {src} imports {module}")
    assert not bad, "\n".join(bad)


def test_no_mock_and_no_private_imports_across_packages() -> None:
    bad = []
    for path in _modules():
        src = _package_of(path)
        for line, module, names in _imports(path):
            where = f"{path.relative_to(PACKAGE.parent)}:{line}"
            if module.split(".")[0] == "unittest":
                bad.append(f"{where}: imports {module}")
            dst = _target(module, names)
            if dst is not None and dst != src and any(n.startswith("_") for n in names):
                bad.append(f"{where}: private {names} from {module}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("source", [
    "from edgesim.cli import main\n",  # cost -> cli: upward
    "def f():\n    from edgesim.pipeline import run\n",  # lazy imports count too
])
def test_the_check_catches_an_upward_import(tmp_path: Path, source: str) -> None:
    path = tmp_path / "probe.py"
    path.write_text(source)
    (line, module, names), = _imports(path)
    dst = _target(module, names)
    assert dst is not None and LAYER_OF[dst] > LAYER_OF["cost"]


def test_the_architecture_page_names_every_package() -> None:
    text = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = [name for group in LAYERS for name in group if name not in text]
    assert not missing, missing
