"""The HTML report: self-contained, escaped, written by ``edgesim report``, and rendered in headless Chromium."""

from __future__ import annotations

import argparse
import base64
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from edgesim.api import load_model, load_profile
from edgesim.cli import main
from edgesim.cli.report import add_report_parser
from edgesim.report.html import render_html
from tests._helpers import simulate
from tests.conftest import shared_model

# Injected into a copy of the report (the report itself carries no script): records console errors, page errors
# and failed resource loads, then after 'load' checks every <img> decoded, as attributes --dump-dom shows.
_CHECK = """<script>
window.__errs=[];
var _ce=console.error;console.error=function(){window.__errs.push(Array.from(arguments).join(' '));
_ce.apply(console,arguments);};
window.addEventListener('error',function(e){window.__errs.push('error:'+(e.message||(e.target&&e.target.src)));},
true);
window.addEventListener('load',function(){var im=document.images,bad=0;
for(var i=0;i<im.length;i++){if(!(im[i].complete&&im[i].naturalWidth>0))bad++;}
document.documentElement.setAttribute('data-imgs',String(im.length));
document.documentElement.setAttribute('data-bad-imgs',String(bad));
document.documentElement.setAttribute('data-errors',String(window.__errs.length));});
</script>"""


def _report_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edgesim")
    add_report_parser(parser.add_subparsers(dest="command"))
    return parser


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    args = _report_parser().parse_args(["report", str(shared_model("vww_96_int8.tflite")), "--hw", "ethos-u55-128",
                                        "--compare", "stm32h7a3", "-o", str(out)])
    assert args.func(args) == 0
    return out


def test_report_is_self_contained(report_file: Path) -> None:
    text = report_file.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    # No network: no external src/href, no stylesheet links, no scripts.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", text)
    assert "<link" not in text and "<script" not in text
    imgs = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(imgs) == 5  # roofline, timeline, bytes, energy, what-if
    for b64 in imgs:
        assert base64.b64decode(b64).startswith(b"\x89PNG")
    for section in ("Summary", "Per-layer costs", "Hardware profile assumptions", "Sources", "Memories"):
        assert section in text
    profile = load_profile("ethos-u55-128")
    for source in profile.sources:
        assert source.replace("&", "&amp;") in text
    assert "DEPTHWISE_CONV2D" in text
    assert not [p for p in report_file.parent.iterdir() if p.name != report_file.name]


def test_text_is_escaped() -> None:
    graph = load_model(shared_model("kws_ref_model.tflite"))
    profile = load_profile("stm32h7a3")
    evil = profile.model_copy(update={"description": "<script>alert(1)</script> & co",
                                      "sources": ["<img src=x onerror=alert(2)>"]})
    est, _, _ = simulate(graph, evil)
    text = render_html(est, evil)
    assert "<script>" not in text and "<img src=x" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in text


def test_report_rejects_non_html_output(tmp_path: Path) -> None:
    from edgesim.errors import EdgesimError

    args = _report_parser().parse_args(["report", "kws", "--hw", "stm32h7a3", "-o", str(tmp_path / "r.pdf")])
    with pytest.raises(EdgesimError, match="html"):
        args.func(args)


def test_run_plot_hook(tmp_path: Path) -> None:
    out = tmp_path / "t.svg"
    assert main(["run", str(shared_model("kws_ref_model.tflite")), "--hw", "ethos-u55-128", "--plot", str(out),
                 "--plot-kind", "timeline"]) == 0
    assert "<svg" in out.read_text()
    assert main(["run", str(shared_model("kws_ref_model.tflite")), "--hw", "ethos-u55-128"]) == 0  # no --plot
    assert [p.name for p in tmp_path.iterdir()] == ["t.svg"]


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def test_report_renders_in_headless_chromium(report_file: Path, tmp_path: Path) -> None:
    exe = _chromium()
    if exe is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    page = tmp_path / "check.html"
    page.write_text(report_file.read_text(encoding="utf-8").replace("<head>", "<head>" + _CHECK, 1),
                    encoding="utf-8")
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run",
           f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
           "--dump-dom", page.as_uri()]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    root = re.search(r"<html[^>]*>", r.stdout)
    assert root is not None, r.stdout[:500]
    tag = root.group(0)
    assert 'data-imgs="5"' in tag, tag
    assert 'data-bad-imgs="0"' in tag, tag
    assert 'data-errors="0"' in tag, tag
    console = [ln for ln in r.stderr.splitlines() if ":CONSOLE" in ln]
    assert not console, console
    assert "Hardware profile assumptions" in r.stdout


def test_chromium_check_catches_a_broken_image(tmp_path: Path) -> None:
    """The browser check itself must be able to fail: a page with an undecodable image is flagged."""
    exe = _chromium()
    if exe is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><html><head>" + _CHECK + "</head><body>"
                    '<img src="data:image/png;base64,AAAA"></body></html>', encoding="utf-8")
    r = subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                        f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri()],
                       capture_output=True, text=True, timeout=120)
    tag = re.search(r"<html[^>]*>", r.stdout)
    assert tag is not None and 'data-bad-imgs="1"' in tag.group(0), r.stdout[:500]


def test_fast_report_has_no_timeline(tmp_path: Path) -> None:
    out = tmp_path / "fast.html"
    args = _report_parser().parse_args(["report", str(shared_model("kws_ref_model.tflite")), "--hw", "stm32h7a3",
                                        "--fast", "-o", str(out)])
    assert args.func(args) == 0
    text = out.read_text(encoding="utf-8")
    assert text.count("<img ") == 3  # roofline, bytes, energy
    assert "<h2>timeline</h2>" not in text and "<h2>roofline</h2>" in text
