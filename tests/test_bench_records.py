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
