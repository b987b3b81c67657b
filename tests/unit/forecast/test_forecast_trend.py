"""The trend maths on synthetic series: robust slope, days until zero, and when to abstain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ipaudit.forecast.trend import forecast, theil_sen_slope

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


def daily(values: list[float], *, step_hours: float = 24) -> list[tuple[datetime, float]]:
    """Values ending at NOW, one every `step_hours`."""
    count = len(values)
    return [
        (NOW - timedelta(hours=step_hours * (count - 1 - i)), value)
        for i, value in enumerate(values)
    ]


def test_theil_sen_recovers_a_straight_line() -> None:
    assert theil_sen_slope([(x, 100 - 7 * x) for x in range(10)]) == pytest.approx(-7)


def test_outliers_do_not_dominate_the_slope() -> None:
    points = [(float(x), 500 - 10.0 * x) for x in range(14)]
    points[5] = (5.0, 5000.0)  # a burst of freed addresses
    points[9] = (9.0, -800.0)  # a bogus reading
    assert theil_sen_slope(points) == pytest.approx(-10, abs=1)


def test_a_steady_loss_gives_days_until_zero_from_the_latest_value() -> None:
    outlook = forecast(daily([200, 190, 180, 170, 160, 150, 140, 130, 120, 110, 100]), NOW)
    assert outlook.status == "ok"
    assert outlook.slope_per_day == pytest.approx(-10)
    assert outlook.days_until_zero == pytest.approx(10)
    assert outlook.describe() == "full in ~10.0 days"


def test_fewer_than_three_days_of_data_is_not_enough_history() -> None:
    hourly = daily([100 - h for h in range(40)], step_hours=1)  # 40 hours: 2 or 3 dates
    two_days = [p for p in hourly if p[0].date() >= (NOW - timedelta(days=1)).date()]
    outlook = forecast(two_days, NOW)
    assert outlook.status == "not_enough_history"
    assert outlook.days_until_zero is None
    assert "not enough history" in outlook.describe()


@pytest.mark.parametrize(
    "values", [[300] * 7, [100, 120, 140, 160, 180, 200, 220], [300, 290, 310, 300, 305, 300, 300]]
)
def test_flat_or_rising_is_not_shrinking(values: list[float]) -> None:
    outlook = forecast(daily(values), NOW)
    assert outlook.status == "not_shrinking"
    assert outlook.days_until_zero is None


def test_only_the_last_fourteen_days_count() -> None:
    old_collapse = daily([1000, 10, 10, 10, 10], step_hours=24)
    shifted = [(t - timedelta(days=20), v) for t, v in old_collapse]
    recent = daily([400, 400, 400, 400, 400])
    assert forecast([*shifted, *recent], NOW).status == "not_shrinking"


def test_hourly_runs_over_two_weeks_are_thinned_without_changing_the_answer() -> None:
    points = daily([1400 - h * (100 / 24) for h in range(14 * 24)], step_hours=1)
    outlook = forecast(points, NOW)
    assert outlook.slope_per_day == pytest.approx(-100, rel=0.01)
    assert outlook.days_until_zero == pytest.approx(points[-1][1] / 100, rel=0.01)


def test_an_exhausted_subnet_that_keeps_losing_is_full_now() -> None:
    outlook = forecast(daily([30, 20, 10, 0]), NOW)
    assert outlook.days_until_zero == 0
