"""The synthetic taxi generator: seeded, realistic ranges, rush hours and weekends."""

from __future__ import annotations

import pandas as pd
import pytest

from kiln.examples.taxi import FEATURES, TARGET, ZONES, generate_trips, model_features


@pytest.fixture(scope="module")
def trips() -> pd.DataFrame:
    return generate_trips(40_000, seed=3)


def test_same_seed_same_trips_other_seed_other_trips() -> None:
    first = generate_trips(2_000, seed=11)
    pd.testing.assert_frame_equal(first, generate_trips(2_000, seed=11))
    other = generate_trips(2_000, seed=12)
    assert not first["trip_duration"].equals(other["trip_duration"])


def test_rows_must_be_positive() -> None:
    with pytest.raises(ValueError, match="rows must be positive, got 0"):
        generate_trips(0)


def test_values_are_in_realistic_ranges(trips: pd.DataFrame) -> None:
    assert len(trips) == 40_000
    assert trips.notna().all().all()
    zone_ids = {z.zone_id for z in ZONES}
    assert set(trips["pickup_zone"]) <= zone_ids
    assert set(trips["dropoff_zone"]) <= zone_ids
    assert trips["passenger_count"].between(1, 6).all()
    assert trips["trip_distance"].between(0.2, 40).all()
    assert trips[TARGET].between(1, 180).all()
    assert (trips["fare_amount"] >= 2.5).all()
    assert (trips["total_amount"] - trips["fare_amount"] > 0.79).all()  # MTA tax + improvement
    # NYC yellow cabs: a median trip of roughly 1.5-3 miles and 8-15 minutes.
    assert 1.5 < trips["trip_distance"].median() < 3.0
    assert 8 < trips[TARGET].median() < 15
    # Most trips stay in Manhattan; Midtown Center is the busiest pickup zone.
    assert (trips["pickup_borough"] == "Manhattan").mean() > 0.8
    assert trips["pickup_zone"].value_counts().index[0] == 161
    starts = trips["pickup_datetime"]
    assert starts.min() >= pd.Timestamp("2019-01-01")
    assert starts.max() < pd.Timestamp("2019-07-01")
    minutes = (trips["dropoff_datetime"] - starts).dt.total_seconds() / 60
    assert (minutes - trips[TARGET]).abs().max() < 0.02


def test_weekday_rush_hours_are_slower_than_nights(trips: pd.DataFrame) -> None:
    frame = model_features(trips).assign(minutes_per_mile=trips[TARGET] / trips["trip_distance"])
    weekday = frame[frame["pickup_weekday"] < 5]
    pace = weekday.groupby("pickup_hour")["minutes_per_mile"].median()
    rush = pace[[8, 17, 18]].mean()
    night = pace[[2, 3, 4]].mean()
    assert rush > 1.6 * night


def test_weekends_have_late_nights_and_quiet_mornings(trips: pd.DataFrame) -> None:
    frame = model_features(trips)
    weekend = frame["pickup_weekday"] >= 5

    def share(mask: pd.Series, hours: list[int]) -> float:
        return float(frame.loc[mask, "pickup_hour"].isin(hours).mean())

    late = [0, 1, 2, 3]
    morning = [7, 8, 9]
    assert share(weekend, late) > 2 * share(~weekend, late)
    assert share(~weekend, morning) > 1.5 * share(weekend, morning)


def test_model_features_are_the_served_columns(trips: pd.DataFrame) -> None:
    features = model_features(trips.head(3))
    assert tuple(features.columns) == FEATURES
    assert features.dtypes.map(str).to_dict() == {
        "pickup_hour": "int64",
        "pickup_weekday": "int64",
        "pickup_zone": "int64",
        "dropoff_zone": "int64",
        "passenger_count": "int64",
        "trip_distance": "float64",
    }
