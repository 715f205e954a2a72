"""benchmarks/common.py: what every benchmark record says about the machine it was made on."""
import sys

from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))


def test_records_name_the_cpu_and_its_widest_vector_extension():
    """Study records carry the CPU: the same study trains 1-3x apart on AVX2 and AVX-512 machines."""
    import common

    avx512 = "model name\t: AMD EPYC\nflags\t\t: fpu sse2 avx avx2 avx512f avx512bw\n"
    assert common.cpu_model(avx512) == {"cpu": "AMD EPYC", "vector": "avx512"}
    assert common.cpu_model("model name\t: Intel Xeon\nflags\t\t: sse2 avx avx2 fma\n")["vector"] == "avx2"
    assert common.cpu_model("flags\t\t: sse2\n") == {"cpu": None, "vector": None}
    assert set(common.machine()) >= {"host", "cores", "cpu", "vector"}


def test_a_run_restarted_from_frame_0_does_not_hide_its_recorded_stage():
    """A new machine lost batch 80 seed 1's folder after its stage to 100 was recorded at 6.2M frames;
    the restart's partial curve at 0.25M must not replace that record in the fit, the plan or the plots
    until it trains past it. A resumed run's further record does replace the earlier one."""
    import common

    stage = {"run_folder": "/old/runs/breakout-b80-none-s1", "frames": 6_209_600, "time": "2026-12-04T17:55:23"}
    restart = {"run_folder": "/new/runs/breakout-b80-none-s1", "frames": 250_000, "time": "2026-12-05T16:16:00"}
    other = {"run_folder": "/new/runs/breakout-b320-none-s1", "frames": 1_000_000, "time": "2026-12-05T10:00:00"}
    resumed = {**other, "frames": 2_000_000, "time": "2026-12-05T11:00:00"}
    runs = common.furthest_per_run([restart, stage, other, resumed])
    assert runs == {"breakout-b80-none-s1": stage, "breakout-b320-none-s1": resumed}
    passed = {**restart, "frames": 7_000_000, "time": "2026-12-05T18:00:00"}
    assert common.furthest_per_run([stage, passed])["breakout-b80-none-s1"] is passed


def test_study_readers_see_finished_stages_and_runs_still_going(tmp_path, monkeypatch):
    """plan, predict, the plots, grow-compare and the defaults screen read one source: <study>.jsonl
    plus batch-partial/; the furthest record of each run is the one they use."""
    import json

    import common

    monkeypatch.setattr(common, "RESULTS", tmp_path)
    stage = {"run_folder": "/r/breakout-b80-none-s1", "frames": 6e6, "time": "2026-12-05T10:00:00"}
    going = {**stage, "frames": 9e6, "time": "2026-12-05T12:00:00", "bench": "batch-partial"}
    other = {"run_folder": "/r/breakout-b320-none-s1", "frames": 5e6, "time": "2026-12-05T11:00:00"}
    (tmp_path / "scale.jsonl").write_text("\n".join(json.dumps(r) for r in (stage, other)) + "\n")
    (tmp_path / "batch-partial").mkdir()
    (tmp_path / "batch-partial" / "breakout-b80-none-s1.json").write_text(json.dumps(going) + "\n")
    records = common.with_partials("scale")
    assert len(records) == 3
    assert common.furthest_per_run(records) == {"breakout-b80-none-s1": going, "breakout-b320-none-s1": other}
    assert common.with_partials("screen") == [going]
