"""A robust trend of free addresses and the days until none are left.

Theil-Sen: the slope is the median of the slopes between every pair of points, so a few odd
runs (a burst of pods, a node group scaling in and out) cannot tilt it the way they tilt a
least-squares line.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

WINDOW_DAYS = 14
MIN_DAYS = 3  # distinct UTC days with data; below this a trend is a guess
# Pairs grow with the square of the points: hourly runs over 14 days are thinned to this many.
MAX_POINTS = 120

Status = Literal["ok", "not_enough_history", "not_shrinking"]
Point = tuple[datetime, float]


@dataclass(frozen=True)
class Forecast:
    status: Status
    days_of_data: int
    latest: float | None = None
    slope_per_day: float | None = None  # free addresses gained (+) or lost (-) per day
    days_until_zero: float | None = None  # only when status is "ok"

    def describe(self) -> str:
        if self.status == "not_enough_history":
            return f"not enough history ({self.days_of_data} of {MIN_DAYS} days)"
        if self.status == "not_shrinking":
            return "not shrinking"
        assert self.days_until_zero is not None
        return f"full in ~{self.days_until_zero:.1f} days"


def theil_sen_slope(points: Sequence[tuple[float, float]]) -> float:
    """The median pairwise slope; 0 when every point shares one x."""
    slopes = [
        (y2 - y1) / (x2 - x1)
        for i, (x1, y1) in enumerate(points)
        for x2, y2 in points[i + 1 :]
        if x2 != x1
    ]
    return statistics.median(slopes) if slopes else 0.0


def forecast(points: Sequence[Point], now: datetime) -> Forecast:
    """The trend over the last WINDOW_DAYS of `points` (free addresses at a time)."""
    start = now - timedelta(days=WINDOW_DAYS)
    window = sorted(p for p in points if start <= p[0] <= now)
    days = len({moment.date() for moment, _ in window})
    if days < MIN_DAYS:
        return Forecast("not_enough_history", days)
    latest = max(window[-1][1], 0.0)
    xy = _thin([((moment - start).total_seconds() / 86400, free) for moment, free in window])
    slope = theil_sen_slope(xy)
    if slope >= 0:
        return Forecast("not_shrinking", days, latest, slope)
    return Forecast("ok", days, latest, slope, latest / -slope)


def _thin(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """At most MAX_POINTS points: the median time and value of equal-width time buckets."""
    if len(points) <= MAX_POINTS:
        return points
    first, last = points[0][0], points[-1][0]
    width = (last - first) / MAX_POINTS
    buckets: dict[int, list[tuple[float, float]]] = {}
    for x, y in points:
        buckets.setdefault(min(int((x - first) / width), MAX_POINTS - 1), []).append((x, y))
    return [
        (statistics.median(x for x, _ in bucket), statistics.median(y for _, y in bucket))
        for _, bucket in sorted(buckets.items())
    ]
