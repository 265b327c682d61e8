"""Fixtures: an AuthService on the real memory stores (``kiln.testing.auth_world``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kiln.testing.auth_world import World, make_world


@pytest.fixture
def world_factory() -> Callable[..., World]:
    return make_world


@pytest.fixture
def world() -> World:
    return make_world()
