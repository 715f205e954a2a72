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
