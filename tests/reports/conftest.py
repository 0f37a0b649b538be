"""Report test projects, built once per backend: see ``report_helpers``."""

from __future__ import annotations

import pytest
from report_helpers import ReportProject, build_classic, build_longitudinal


@pytest.fixture(scope="session")
def classic(server) -> ReportProject:
    return build_classic(server)


@pytest.fixture(scope="session")
def longitudinal(server) -> ReportProject:
    return build_longitudinal(server)
