import math

from ba3c.collapse import COLLAPSE_SPAN_FRAMES, CollapseWatch

# (frames, value_std) of the first 20 progress rows of two default runs, seed 0, one process
# (runs boxing-defaults-valuestd and breakout-defaults-valuestd, models/README.md).
BOXING = [(10560, 0.028), (24960, 0.0059), (38720, 0.0054), (52480, 0.004), (63360, 0.0008), (77760, 0.00055),
          (91840, 0.0067), (106240, 0.0023), (119680, 0.00058), (133120, 2.6e-05), (147520, 1.2e-06),
          (160000, 8.6e-06), (174080, 4.2e-06), (187200, 4.3e-08), (200640, 2.2e-08), (214080, 2.2e-11),
          (226880, 1.4e-10), (239360, 4.2e-05), (253760, 3.2e-08), (267200, 3.2e-10)]
BREAKOUT = [(11840, 0.01), (26560, 0.005), (40960, 0.0047), (55040, 0.018), (66560, 0.048), (81280, 0.19),
            (95040, 0.25), (108800, 0.25), (123840, 0.2), (136960, 0.39), (152320, 0.19), (166400, 0.31),
            (180800, 0.31), (195520, 0.32), (209600, 0.37), (223360, 0.36), (236480, 0.38), (248960, 0.33),
            (263040, 0.49), (277120, 0.4)]


def said_at(rows, watch=None):
    watch = watch or CollapseWatch()
    return [f for f, v in rows if watch.update(f, v)]


def test_collapsed_boxing_run_is_reported_once_after_the_span():
    # Below 1e-4 from 133,120 frames on; the first row at least the span later says so, and only it.
    assert said_at(BOXING) == [239360]
    assert 239360 - 133120 >= COLLAPSE_SPAN_FRAMES > 226880 - 133120


def test_learning_breakout_run_is_never_reported():
    # Untrained, its batch value_std read 0.005: well above the bound, so no false alarm early on.
    assert said_at(BREAKOUT) == []


def test_a_stretch_broken_by_a_healthy_row_or_a_missing_value_starts_again():
    rows = [(0, 1e-6), (90_000, 1e-6), (95_000, 0.01), (100_000, 1e-6), (150_000, 1e-6)]
    assert said_at(rows) == []
    rows = [(0, 1e-6), (60_000, None), (70_000, 1e-6), (110_000, math.nan), (120_000, 1e-6), (220_000, 1e-6)]
    assert said_at(rows) == [220_000]
