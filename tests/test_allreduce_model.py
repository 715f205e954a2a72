"""The allreduce model: OpenMPI 4.1's decision table as transcribed, and the cost formulas at
points worked out by hand."""
import math
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
from allreduce_model import cost, openmpi_41_choice  # noqa: E402

GRADIENT_BYTES = 6_750_000  # about the Nature-CNN gradient buffer (1.69 M float32 and the tail)


@pytest.mark.parametrize("n", [2, 3, 4, 8, 12, 64, 128, 768, 1536, 5000])
def test_our_gradient_gets_rabenseifner_at_every_size(n):
    assert openmpi_41_choice(n, GRADIENT_BYTES) == 6


@pytest.mark.parametrize("n,nbytes,alg", [(2, 4, 4), (2, 1000, 3), (2, 5000, 4), (2, 10000, 3), (2, 100000, 5),
                                          (6, 8, 4), (6, 100, 3), (20, 32, 5), (200, 1000, 2), (200, 200000, 3),
                                          (1000, 1000, 2), (1000, 10000, 3), (3000, 3000, 5), (8000, 20000, 3)])
def test_small_messages_follow_the_table(n, nbytes, alg):
    assert openmpi_41_choice(n, nbytes) == alg


def test_costs_against_hand_values():
    a, b, g, s = 1e-5, 1e-9, 1e-10, 1e6
    assert cost(6, 1, s, a, b) == 0
    # 8 ranks: Rabenseifner 2*3 alpha + 2*(7/8) S beta + (7/8) S gamma
    assert math.isclose(cost(6, 8, s, a, b, g), 6 * a + 1.75 * s * b + 0.875 * s * g)
    # ring on 8: 14 alpha + 2*(7/8) S beta + (7/8) S gamma
    assert math.isclose(cost(4, 8, s, a, b, g), 14 * a + 1.75 * s * b + 0.875 * s * g)
    # recursive doubling on 8: 3 (alpha + S beta + S gamma)
    assert math.isclose(cost(3, 8, s, a, b, g), 3 * (a + s * b + s * g))
    # 12 ranks: a fold-in to 8 (3 alpha + 2 S beta + S/2 gamma) then Rabenseifner on 8
    assert math.isclose(cost(6, 12, s, a, b, g), 3 * a + 2 * s * b + 0.5 * s * g + 6 * a + 1.75 * s * b + 0.875 * s * g)
    # for large messages Rabenseifner moves ~2 S per rank whatever the size; recursive doubling log2(N) S
    assert cost(3, 1024, s, 0, b) / cost(6, 1024, s, 0, b) == pytest.approx(10 / (2 * 1023 / 1024))
