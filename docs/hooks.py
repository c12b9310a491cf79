"""mkdocs hook: build the tutorial's figures and numbers (docs/tutorial/build.py) before the site, unless they are
there already, so the site's tutorial shows what the scripts compute and the build needs no tracked figures."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

TUTORIAL = Path(__file__).resolve().parent / "tutorial"


def on_pre_build(config: Any, **_: Any) -> None:
    sys.path.insert(0, str(TUTORIAL))
    import build  # docs/tutorial/build.py

    out = TUTORIAL / "_build"
    if not all((out / f"{name}.png").is_file() for name in build.SCRIPTS):
        build.run_scripts(out)
