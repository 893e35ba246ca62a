"""Fixtures shared by the integration tests of Linux programs."""

from __future__ import annotations

import pytest

from tests.conftest import selected_arches
from tests.linux_programs import Builder


@pytest.fixture(params=selected_arches())
def arch(request):
    return request.param


@pytest.fixture(scope="session")
def builder(tmp_path_factory):
    """Static test programs, each built once per session."""
    return Builder(tmp_path_factory.mktemp("linux-programs"))
