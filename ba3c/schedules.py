"""Learning-rate and entropy schedules as functions of the global frame count."""
from __future__ import annotations

from typing import Callable

from ba3c.errors import UserError


def parse_schedule(spec: str, base: float, total_frames: int, flag: str) -> Callable[[float], float]:
    """'constant' -> base; 'linear' -> base * (1 - frames/total); 'F1=V1,F2=V2' -> piecewise constant:
    base until F1 frames, then V1 until F2, and so on (tensorpack's ScheduledHyperParamSetter)."""
    spec = spec.strip()
    if spec == "constant":
        return lambda frames: base
    if spec == "linear":
        return lambda frames: base * max(0.0, 1.0 - frames / total_frames)
    points: list[tuple[float, float]] = []
    try:
        for part in spec.split(","):
            f, v = part.split("=")
            points.append((float(f), float(v)))
    except ValueError:
        raise UserError(f"{flag} {spec!r} is not 'constant', 'linear' or 'FRAMES=VALUE,...'") from None
    if any(f < 0 or v < 0 for f, v in points) or [f for f, _ in points] != sorted(f for f, _ in points):
        raise UserError(f"{flag} {spec!r}: frames must increase and values be >= 0")

    def piecewise(frames: float) -> float:
        value = base
        for f, v in points:
            if frames >= f:
                value = v
        return value

    return piecewise


def scaled_lr_schedule(spec: str, base: float, factor: float, warmup_frames: float,
                       total_frames: int) -> Callable[[float], float]:
    """The learning rate at a frame count: the --lr_schedule value (piecewise values included) times
    the batch scaling factor, which ramps linearly from 1 to `factor` over the warm-up frames."""
    schedule = parse_schedule(spec, base, total_frames, "--lr_schedule")

    def at(frames: float) -> float:
        ramp = 1.0 if warmup_frames <= 0 else min(1.0, frames / warmup_frames)
        return schedule(frames) * (1.0 + (factor - 1.0) * ramp)

    return at
