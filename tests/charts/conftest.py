"""Fixtures of the chart tests: the Helm SDK, the built charts and their renders.

The helpers live in chartkit.py (the saga chart), netpol.py (NetworkPolicy evaluation),
umbrellakit.py (the observability umbrella), clusterkit.py (both renders as one cluster)
and wiring.py, grafanawiring.py, netpaths.py (the checks that the two fit together),
registered here as modules of those names (the tests import them by name: with
--import-mode=importlib, test folders are not on sys.path).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest


def _register(name: str) -> ModuleType:
    if name not in sys.modules:
        path = Path(__file__).with_name(f"{name}.py")
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        sys.modules[name] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules[name]


ck = _register("chartkit")
_register("netpol")
clk = _register("clusterkit")
for _name in ("wiring", "grafanawiring", "netpaths"):
    _register(_name)
uk = _register("umbrellakit")


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


@pytest.fixture(scope="session")
def stack(helm: ModuleType) -> Any:
    """The observability umbrella as `make observability-up` installs it (chartkit.Render)."""
    return uk.render_umbrella(helm)


@pytest.fixture(scope="session")
def observed(render_values: Callable[..., Any]) -> Any:
    """The saga as `make deploy` installs it next to the umbrella: kind + observed values."""
    return render_values(uk.observed_values())


@pytest.fixture(scope="session")
def cluster_objects(stack: Any, observed: Any) -> list[dict[str, Any]]:
    """Both releases' objects, each with its namespace, as one cluster would hold them."""
    return clk.placed(observed.objects, ck.NAMESPACE) + clk.placed(stack.objects, uk.NAMESPACE)


@pytest.fixture(scope="session")
def guarded(render_values: Callable[..., Any]) -> Any:
    """The `observed` saga with its own NetworkPolicies explicitly on (umbrellakit.POLICIES)."""
    return render_values(ck.deep_merge(uk.observed_values(), uk.POLICIES))


@pytest.fixture(scope="session")
def guarded_objects(stack: Any, guarded: Any) -> list[dict[str, Any]]:
    """Like cluster_objects, with the saga's NetworkPolicies."""
    return clk.placed(guarded.objects, ck.NAMESPACE) + clk.placed(stack.objects, uk.NAMESPACE)
