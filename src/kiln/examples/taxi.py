"""A seeded synthetic generator of New York yellow-cab trips (the ``taxi`` example's data).

No offline copy of the TLC trip records exists, so the trips are drawn from a
model with the structure that makes trip-duration prediction interesting:

- **When**: days of January-June 2019; the hour follows a weekday profile (morning
  and evening rush, quiet 3-5 am) or a weekend one (late nights busy, mornings
  quiet).
- **Where**: 48 real TLC taxi zones (ids, names, boroughs, approximate centroids).
  Pickups follow each zone's popularity (Midtown busiest); dropoffs follow a
  gravity model (popular and near zones likelier; airport trips go far).
- **Distance**: the straight line between points jittered inside the two zones,
  times a street-grid detour factor, with noise.
- **Duration**: distance over a speed that depends on the hour and day (weekday
  rush hours crawl), is faster outside Manhattan and on long (highway) trips, and
  has log-normal congestion noise plus rare incidents; plus time to get going.
- **Fare**: the 2019 meter (initial charge, per mile, per slow minute), MTA tax,
  improvement, night, weekday-peak and congestion surcharges; the JFK-Manhattan
  flat fare.

Everything comes from ``numpy.random.default_rng(seed)``: the same seed gives the
same trips on every machine. ``model_features`` turns trips into the inputs the
example's model is served with (no fare: a fare is only known after the trip).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


@dataclass(frozen=True, slots=True)
class Zone:
    """A TLC taxi zone: its LocationID, name, borough, centroid and relative popularity."""

    zone_id: int
    name: str
    borough: str
    lat: float
    lon: float
    popularity: float


ZONES: tuple[Zone, ...] = (
    Zone(161, "Midtown Center", "Manhattan", 40.758, -73.978, 10.0),
    Zone(162, "Midtown East", "Manhattan", 40.756, -73.972, 9.0),
    Zone(163, "Midtown North", "Manhattan", 40.764, -73.977, 7.0),
    Zone(164, "Midtown South", "Manhattan", 40.749, -73.985, 7.0),
    Zone(230, "Times Sq/Theatre District", "Manhattan", 40.759, -73.986, 8.0),
    Zone(186, "Penn Station/Madison Sq West", "Manhattan", 40.750, -73.993, 7.0),
    Zone(170, "Murray Hill", "Manhattan", 40.748, -73.976, 6.0),
    Zone(234, "Union Sq", "Manhattan", 40.736, -73.990, 6.0),
    Zone(48, "Clinton East", "Manhattan", 40.762, -73.990, 5.0),
    Zone(142, "Lincoln Square East", "Manhattan", 40.773, -73.982, 6.0),
    Zone(239, "Upper West Side South", "Manhattan", 40.783, -73.978, 6.0),
    Zone(238, "Upper West Side North", "Manhattan", 40.796, -73.970, 4.0),
    Zone(141, "Lenox Hill West", "Manhattan", 40.767, -73.962, 5.0),
    Zone(140, "Lenox Hill East", "Manhattan", 40.766, -73.955, 4.0),
    Zone(237, "Upper East Side South", "Manhattan", 40.771, -73.960, 9.0),
    Zone(236, "Upper East Side North", "Manhattan", 40.777, -73.953, 8.0),
    Zone(263, "Yorkville West", "Manhattan", 40.779, -73.950, 4.0),
    Zone(262, "Yorkville East", "Manhattan", 40.776, -73.945, 3.0),
    Zone(79, "East Village", "Manhattan", 40.727, -73.985, 6.0),
    Zone(113, "Greenwich Village North", "Manhattan", 40.732, -73.996, 4.0),
    Zone(114, "Greenwich Village South", "Manhattan", 40.728, -73.999, 4.0),
    Zone(68, "East Chelsea", "Manhattan", 40.746, -73.999, 5.0),
    Zone(246, "West Chelsea/Hudson Yards", "Manhattan", 40.752, -74.004, 4.0),
    Zone(90, "Flatiron", "Manhattan", 40.740, -73.991, 4.0),
    Zone(107, "Gramercy", "Manhattan", 40.737, -73.984, 5.0),
    Zone(249, "West Village", "Manhattan", 40.734, -74.004, 5.0),
    Zone(211, "SoHo", "Manhattan", 40.723, -74.001, 3.0),
    Zone(231, "TriBeCa/Civic Center", "Manhattan", 40.716, -74.007, 4.0),
    Zone(87, "Financial District North", "Manhattan", 40.709, -74.007, 3.0),
    Zone(88, "Financial District South", "Manhattan", 40.704, -74.012, 2.0),
    Zone(13, "Battery Park City", "Manhattan", 40.712, -74.016, 2.0),
    Zone(148, "Lower East Side", "Manhattan", 40.716, -73.987, 3.0),
    Zone(43, "Central Park", "Manhattan", 40.782, -73.965, 3.0),
    Zone(166, "Morningside Heights", "Manhattan", 40.809, -73.962, 1.5),
    Zone(41, "Central Harlem", "Manhattan", 40.809, -73.945, 1.5),
    Zone(75, "East Harlem South", "Manhattan", 40.791, -73.943, 1.5),
    Zone(244, "Washington Heights South", "Manhattan", 40.840, -73.940, 0.8),
    Zone(138, "LaGuardia Airport", "Queens", 40.775, -73.873, 3.5),
    Zone(132, "JFK Airport", "Queens", 40.645, -73.785, 3.0),
    Zone(7, "Astoria", "Queens", 40.764, -73.923, 1.0),
    Zone(145, "Long Island City/Hunters Point", "Queens", 40.744, -73.954, 0.8),
    Zone(129, "Jackson Heights", "Queens", 40.752, -73.883, 0.5),
    Zone(255, "Williamsburg (North Side)", "Brooklyn", 40.717, -73.957, 1.0),
    Zone(65, "Downtown Brooklyn/MetroTech", "Brooklyn", 40.694, -73.986, 0.8),
    Zone(181, "Park Slope", "Brooklyn", 40.672, -73.977, 0.6),
    Zone(66, "DUMBO/Vinegar Hill", "Brooklyn", 40.703, -73.988, 0.5),
    Zone(247, "West Concourse", "Bronx", 40.832, -73.924, 0.4),
    Zone(168, "Mott Haven/Port Morris", "Bronx", 40.806, -73.921, 0.4),
)
"""The zones trips start and end in (TLC LocationIDs, approximate centroids)."""

AIRPORTS = frozenset({132, 138})
JFK = 132

# Relative number of trips starting in each hour (0-23), weekday and weekend.
WEEKDAY_HOURS = (
    2.2, 1.4, 0.9, 0.7, 0.7, 1.0, 2.3, 3.9, 4.6, 4.5, 4.3, 4.4,
    4.7, 4.7, 5.0, 5.0, 4.6, 5.4, 6.3, 6.2, 5.5, 5.4, 5.1, 3.9,
)  # fmt: skip
WEEKEND_HOURS = (
    4.6, 4.0, 3.2, 2.4, 1.5, 0.8, 0.9, 1.3, 2.0, 2.9, 3.8, 4.5,
    4.9, 5.0, 5.0, 4.9, 4.8, 5.0, 5.2, 5.1, 4.7, 4.6, 4.8, 4.9,
)  # fmt: skip
# Typical door-to-door speed in Manhattan (mph) by hour, weekday and weekend.
WEEKDAY_MPH = (
    19.0, 20.0, 21.0, 21.0, 20.0, 18.0, 15.0, 11.0, 8.5, 9.0, 10.0, 10.0,
    10.0, 10.0, 9.8, 9.3, 9.0, 8.5, 8.8, 10.0, 12.0, 13.0, 14.0, 16.0,
)  # fmt: skip
WEEKEND_MPH = (
    17.0, 18.0, 19.0, 20.0, 21.0, 21.0, 20.0, 18.0, 16.5, 15.0, 13.5, 12.5,
    12.0, 11.8, 11.8, 12.0, 12.0, 12.0, 12.2, 12.5, 13.0, 13.5, 14.0, 15.0,
)  # fmt: skip
PASSENGERS = (0.71, 0.145, 0.04, 0.02, 0.05, 0.035)
"""Share of trips with 1, 2, ..., 6 passengers."""

FIRST_DAY = "2019-01-01"
DAYS = 181  # January to June 2019
CONGESTION_SURCHARGE_FROM = "2019-02-02"
MILES_PER_DEGREE_LAT = 69.0
MILES_PER_DEGREE_LON = 52.4  # at New York's latitude

FEATURES = (
    "pickup_hour",
    "pickup_weekday",
    "pickup_zone",
    "dropoff_zone",
    "passenger_count",
    "trip_distance",
)
"""The model's inputs: what is known when a trip starts (weekday: Monday = 0)."""
TARGET = "trip_duration"
"""Minutes from pickup to dropoff."""


def _normalized(weights: Any) -> np.ndarray[Any, Any]:
    import numpy as np

    array = np.asarray(weights, dtype="float64")
    normalized: np.ndarray[Any, Any] = array / array.sum()
    return normalized


def _dropoff_probabilities() -> np.ndarray[Any, Any]:
    """Row ``i``: the chance of each dropoff zone for a pickup in zone ``i`` (gravity model)."""
    import numpy as np

    lat = np.array([z.lat for z in ZONES])
    lon = np.array([z.lon for z in ZONES])
    miles = np.hypot(
        (lat[:, None] - lat[None, :]) * MILES_PER_DEGREE_LAT,
        (lon[:, None] - lon[None, :]) * MILES_PER_DEGREE_LON,
    )
    popularity = np.array([z.popularity for z in ZONES])
    reach = np.array([9.0 if z.zone_id in AIRPORTS else 2.5 for z in ZONES])
    weights = popularity[None, :] / (1.0 + (miles / reach[:, None]) ** 2)
    probabilities: np.ndarray[Any, Any] = weights / weights.sum(axis=1, keepdims=True)
    return probabilities


def _choose(rng: np.random.Generator, cdf: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """One index per row of ``cdf`` (cumulative probabilities along axis 1)."""
    import numpy as np

    u = rng.random(cdf.shape[0])
    chosen: np.ndarray[Any, Any] = np.minimum((u[:, None] > cdf).sum(axis=1), cdf.shape[1] - 1)
    return chosen


def generate_trips(rows: int = 50_000, seed: int = 0) -> pd.DataFrame:
    """``rows`` synthetic trips, the same for the same ``seed``.

    Columns: ``pickup_datetime``, ``dropoff_datetime``, ``pickup_zone``,
    ``dropoff_zone`` (TLC LocationIDs), ``pickup_borough``, ``dropoff_borough``,
    ``passenger_count``, ``trip_distance`` (miles), ``fare_amount``,
    ``total_amount`` (dollars) and ``trip_duration`` (minutes).

    Raises:
        ValueError: ``rows`` is not positive.
    """
    import numpy as np
    import pandas as pd

    if rows <= 0:
        raise ValueError(f"rows must be positive, got {rows}")
    rng = np.random.default_rng(seed)

    # When: a day, then an hour from that day's profile, then the minute and second.
    first = np.datetime64(FIRST_DAY, "D")
    day = first + rng.integers(0, DAYS, rows).astype("timedelta64[D]")
    weekday = (day.astype("int64") + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    weekend = weekday >= 5
    hour = np.where(
        weekend,
        _choose(rng, np.broadcast_to(np.cumsum(_normalized(WEEKEND_HOURS)), (rows, 24))),
        _choose(rng, np.broadcast_to(np.cumsum(_normalized(WEEKDAY_HOURS)), (rows, 24))),
    )
    seconds = hour * 3600 + rng.integers(0, 3600, rows)
    pickup_time = day.astype("datetime64[s]") + seconds.astype("timedelta64[s]")

    # Where: a pickup zone by popularity, a dropoff zone by the gravity model.
    zone_ids = np.array([z.zone_id for z in ZONES])
    boroughs = np.array([z.borough for z in ZONES], dtype=object)
    lat = np.array([z.lat for z in ZONES])
    lon = np.array([z.lon for z in ZONES])
    popularity = _normalized([z.popularity for z in ZONES])
    pickup = rng.choice(len(ZONES), size=rows, p=popularity)
    dropoff = _choose(rng, np.cumsum(_dropoff_probabilities(), axis=1)[pickup])

    # Distance: jittered points inside the zones, straight line times a street detour.
    # Each end lies about 0.35 miles from its zone's centroid: 0.5 miles for the difference.
    dy = (lat[dropoff] - lat[pickup]) * MILES_PER_DEGREE_LAT + rng.normal(0.0, 0.5, rows)
    dx = (lon[dropoff] - lon[pickup]) * MILES_PER_DEGREE_LON + rng.normal(0.0, 0.5, rows)
    detour = 1.3 * rng.lognormal(0.0, 0.12, rows)
    distance = np.maximum(np.hypot(dx, dy) * detour, 0.2)

    # Duration: distance over the hour's speed, faster outside Manhattan and on highways.
    mph = np.where(weekend, np.take(WEEKEND_MPH, hour), np.take(WEEKDAY_MPH, hour))
    manhattan = (boroughs[pickup] == "Manhattan") & (boroughs[dropoff] == "Manhattan")
    mph = mph * np.where(manhattan, 1.0, 1.3) * (1.0 + 0.8 * distance / (distance + 6.0))
    mph = mph * rng.lognormal(0.0, 0.22, rows)
    incident = rng.random(rows) < 0.02
    mph = np.where(incident, mph * rng.uniform(0.35, 0.7, rows), mph)
    minutes = distance / mph * 60.0 + rng.gamma(2.0, 0.6, rows)
    minutes = np.clip(minutes, 1.0, 180.0)

    # Fare: the 2019 meter, or the JFK-Manhattan flat fare, plus surcharges.
    slow_minutes = np.maximum(minutes - distance / 12.0 * 60.0, 0.0)
    metered = 2.5 + 2.5 * distance + 0.5 * slow_minutes
    jfk_flat = ((zone_ids[pickup] == JFK) & (boroughs[dropoff] == "Manhattan")) | (
        (zone_ids[dropoff] == JFK) & (boroughs[pickup] == "Manhattan")
    )
    fare = np.round(np.where(jfk_flat, 52.0, metered), 2)
    night = (hour >= 20) | (hour < 6)
    peak = ~weekend & (hour >= 16) & (hour < 20)
    congestion_zone = (boroughs[pickup] == "Manhattan") | (boroughs[dropoff] == "Manhattan")
    congestion = congestion_zone & (day >= np.datetime64(CONGESTION_SURCHARGE_FROM, "D"))
    total = fare + 0.5 + 0.3 + 0.5 * night + 1.0 * peak + 2.5 * congestion

    dropoff_time = pickup_time + np.round(minutes * 60).astype("timedelta64[s]")
    passengers = rng.choice(np.arange(1, 7), size=rows, p=_normalized(PASSENGERS))
    return pd.DataFrame(
        {
            "pickup_datetime": pickup_time.astype("datetime64[ns]"),
            "dropoff_datetime": dropoff_time.astype("datetime64[ns]"),
            "pickup_zone": zone_ids[pickup].astype("int64"),
            "dropoff_zone": zone_ids[dropoff].astype("int64"),
            "pickup_borough": boroughs[pickup],
            "dropoff_borough": boroughs[dropoff],
            "passenger_count": passengers.astype("int64"),
            "trip_distance": np.round(distance, 2),
            "fare_amount": fare,
            "total_amount": np.round(total, 2),
            TARGET: np.round(minutes, 2),
        }
    )


def model_features(trips: pd.DataFrame) -> pd.DataFrame:
    """The model's inputs (``FEATURES``) for ``trips``: hour and weekday of the pickup,
    the two zones, the passenger count and the trip distance."""
    pickup = trips["pickup_datetime"].dt
    return trips.assign(
        pickup_hour=pickup.hour.astype("int64"),
        pickup_weekday=pickup.day_of_week.astype("int64"),
    )[list(FEATURES)]


__all__ = ["FEATURES", "TARGET", "ZONES", "Zone", "generate_trips", "model_features"]
