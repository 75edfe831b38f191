"""Fixtures of the chart tests: the Helm SDK, the built chart and its renders.

The helpers live in chartkit.py, registered here as the module `chartkit` (the tests
import it by that name: with --import-mode=importlib, test folders are not on sys.path).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest


def _register_chartkit() -> ModuleType:
    if "chartkit" not in sys.modules:
        path = Path(__file__).with_name("chartkit.py")
        spec = importlib.util.spec_from_file_location("chartkit", path)
        assert spec is not None and spec.loader is not None
        sys.modules["chartkit"] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules["chartkit"]


ck = _register_chartkit()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test taking `values_name` runs once per values file."""
    if "values_name" in metafunc.fixturenames:
        metafunc.parametrize("values_name", ck.VALUES)


@pytest.fixture(scope="session")
def helm() -> ModuleType:
    return ck.load_helm()


@pytest.fixture(scope="session")
def chart_dir(helm: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of charts/ with saga's file:// dependencies built (`helm dependency build`)."""
    built = ck.build_chart(helm, tmp_path_factory.mktemp("charts"))
    packaged = sorted(path.name for path in (built / "charts").iterdir())
    assert packaged == ["postgres-0.1.0.tgz", "redis-0.1.0.tgz"], packaged
    return built


@pytest.fixture(scope="session")
def render_values(helm: ModuleType, chart_dir: Path) -> Callable[..., Any]:
    """render_values(values, release=..., fixed=True) -> chartkit.Render (not cached).

    fixed=False leaves out TEST_VALUES' passwords: the chart then generates them.
    """

    def render(values: dict[str, Any], release: str = ck.RELEASE, fixed: bool = True) -> Any:
        return ck.render_chart(helm, chart_dir, values, release, fixed)

    return render


@pytest.fixture(scope="session")
def rendered(render_values: Callable[..., Any]) -> dict[str, Any]:
    """The render of every values file, by name."""
    return {name: render_values(ck.values_of(name)) for name in ck.VALUES}
