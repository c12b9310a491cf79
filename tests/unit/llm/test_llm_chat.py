"""The chat session runs on the shared thermal loop (run_windows) with windows cut where a phase ends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgesim.errors import EdgesimError
from edgesim.llm.chat import ChatPolicy, _Point, chat_session
from edgesim.thermal.loop import OperatingPointResult, WindowPolicy, WindowWork, run_windows


def test_chat_windows_end_at_phase_boundaries() -> None:
    r = chat_session("qwen2.5-0.5b", "rpi5", duration_s=120, prompt=128, gen=64, think_s=3, quant="Q4_K_M",
                     window_s=5.0)
    assert r.turns >= 2
    # the first prefill ends mid-window: a window edge sits exactly at the first answer's TTFT
    assert min(abs(t - r.first_turn_ttft_s) for t in r.time_s) < 1e-9
    assert r.time_s[-1] == pytest.approx(120.0)
    # no window blends two phases: every window of the first prefill draws the prefill power (leakage drift
    # aside), and the first decode window draws a different one
    n = next(i for i, t in enumerate(r.time_s) if abs(t - r.first_turn_ttft_s) < 1e-9) + 1
    prefill = r.power_w[:n]
    assert max(prefill) - min(prefill) < 0.02 * max(prefill)
    assert abs(r.power_w[n] - prefill[-1]) > 0.05 * prefill[-1]


def test_chat_policy_skips_an_empty_think_phase() -> None:
    pts = {1000.0: _Point(1000.0, 2.0, 5.0, 4.0, 4.0)}
    pol = ChatPolicy(pts, static_w=1.0, think_s=0.0, gen=8)
    phases = []
    for _ in range(6):
        w = pol.work(0.0, 10.0, None)
        assert w.window_s is not None
        phases.append(pol.phase)  # the policy accounts this window when the loop asks for the next one
    assert set(phases) == {0, 1} and pol.turn_stats[0] == (2.0, 2.0)


class _BadPolicy(WindowPolicy):
    def work(self, t_s: float, dt_s: float, cap_mhz: float | None) -> WindowWork:
        return WindowWork(1.0, OperatingPointResult(1.0, 0.0, 1.0, 0.0, 0.0), 0.0, window_s=0.0)


def test_loop_refuses_a_window_cut_to_nothing() -> None:
    from edgesim.api import load_profile

    with pytest.raises(EdgesimError, match="must be > 0"):
        run_windows(load_profile("rpi5"), _BadPolicy(), 1.0, None, 0.5)


def test_the_chat_reports_its_interval_at_every_door(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from edgesim.llm.predict import predict
    from tests.conftest import run_cli

    # --confidence was taken and silently unused: the chat printed and wrote no interval
    out = tmp_path / "c.json"
    code, text, err = run_cli(["llm", "qwen2.5-0.5b", "--hw", "rpi5", "--chat-session", "30", "--prompt", "64",
                               "--gen", "32", "--confidence", "0.9", "--json", str(out)], capsys)
    assert code == 0, err
    r = chat_session("qwen2.5-0.5b", "rpi5", duration_s=30, prompt=64, gen=32, confidence=0.9)
    assert r.interval is not None and r.interval.summary() in text.splitlines()
    assert json.loads(out.read_text())["interval"] == json.loads(json.dumps(r.interval.as_dict()))
    # a cool first turn is one estimate at the nominal clock: its bounds are the single estimate's
    single = predict("qwen2.5-0.5b", "rpi5", prompt=64, gen=32).interval(0.9)
    assert single is not None and single.decode_tokens_per_s is not None and single.ttft_s is not None
    assert r.interval.first_turn_decode_tps.as_list() == pytest.approx(single.decode_tokens_per_s.as_list())
    assert r.interval.first_turn_ttft_s.as_list() == pytest.approx(single.ttft_s.as_list())
    with pytest.raises(EdgesimError, match="confidence"):
        chat_session("qwen2.5-0.5b", "rpi5", duration_s=30, confidence=1.0)


@pytest.mark.parametrize("argv, words", [
    (["--html", "c.html"], "--html does not apply to --chat-session"),  # was silently not written
    (["--context-plot", "c.png"], "--context-plot does not apply to --chat-session"),
    (["--context", "100"], "smaller than prompt + gen"),  # --context was silently dropped: it now sizes the cache
])
def test_single_prediction_flags_are_not_silently_dropped_from_a_chat(argv: list[str], words: str, tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import run_cli

    argv = [str(tmp_path / a) if a.startswith("c.") else a for a in argv]
    code, out, err = run_cli(["llm", "qwen2.5-0.5b", "--hw", "rpi5", "--chat-session", "30", *argv], capsys)
    assert code == 2 and words in err and out == "" and len(err.splitlines()) == 1
    assert not any(tmp_path.iterdir())
