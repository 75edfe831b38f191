"""The five images built with buildah and run as containers with runc, driven over HTTP.

As in the chart rendered with values/kind.yaml, each service first runs its init
container's command (`<service> migrate --wait N`, which also creates the database here),
then the image's own command, each with the environment and the Secret volumes the chart
gives that container: the dev signing key (auth.mode=dev) the chart generated, with
which the test's client signs its tokens. Every database (`img_<run>_<service>`), stream
prefix and container belongs to this run.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from sagactl.auth import DevTokens
from sagactl.client import Endpoints, SagaClient
from sagakit.testing import drop_database, free_ports, require_postgres, require_redis


def load(name: str, path: Path | None = None) -> ModuleType:
    """Import a helper module beside this file (the tests run in importlib mode)."""
    module_name = f"saga_images_{name}" if path is None else name
    if module_name not in sys.modules:
        path = path or Path(__file__).with_name(f"{name}.py")
        spec = importlib.util.spec_from_file_location(module_name, path)
        assert spec is not None and spec.loader is not None
        sys.modules[module_name] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules[module_name]


building = load("building")
containers = load("containers")
chartkit = load("chartkit", Path(__file__).parents[2] / "charts" / "chartkit.py")


@dataclass
class ContainerStack:
    """The five running containers and an HTTP client to them."""

    containers: dict[str, Any]
    client: SagaClient
    key_file: str  # where the chart mounts the dev key in each container

    def logs(self) -> str:
        return "\n".join(container.log_tail() for container in self.containers.values())

    def image_config(self, reference: str) -> Any:
        """An image's OCI config (user, entrypoint, environment, layers)."""
        return containers.image_config(reference)

    async def wait_for(self, service: str, path: str, key: str, value: str) -> dict[str, Any]:
        """Poll a resource until `key` equals `value`; fail with the containers' logs."""
        last = None
        for _ in range(400):
            last = await self.client.find(service, path)
            if last is not None and last.get(key) == value:
                return last
            await asyncio.sleep(0.05)
        pytest.fail(f"{service}{path}: {key} never became {value}; last {last}\n{self.logs()}")


@pytest.fixture(scope="session")
def images() -> dict[str, str]:
    """base, base-uv and the five service images, built for this session."""
    return dict(building.build_images())


@pytest.fixture(scope="session")
def build_service(images: dict[str, str]) -> Callable[[str | None], Any]:
    """Build services/Dockerfile for a SERVICE (None: none) on the session's base, untagged."""
    return functools.partial(building.build_service, images)


@pytest.fixture(scope="session")
def chart(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The saga chart rendered with the kind values, as `make deploy` installs it."""
    helm = chartkit.load_helm()
    built = chartkit.build_chart(helm, tmp_path_factory.mktemp("chart"))
    return chartkit.render_chart(helm, built, chartkit.values_of("kind"))


@pytest.fixture(scope="session")
async def stack(
    images: dict[str, str], chart: Any, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ContainerStack]:
    await require_postgres()
    await require_redis()
    run_id = uuid.uuid4().hex[:6]
    prefix = f"img-{run_id}."
    ports = dict(zip(building.SERVICES, free_ports(len(building.SERVICES)), strict=True))
    workdir = tmp_path_factory.mktemp("containers")
    running: dict[str, Any] = {}
    try:
        for name in building.SERVICES:
            running[name] = containers.Container(name, images[name], workdir, run_id)
            database = f"img_{run_id}_{name}"
            local = functools.partial(
                containers.on_this_host, port=ports[name], database=database, prefix=prefix
            )
            spec = chart.deployment(name)["spec"]["template"]["spec"]
            (init,) = spec["initContainers"]
            secrets = functools.partial(containers.secret_mounts, chart, spec, into=workdir)
            await drop_database(database)  # `migrate` creates it
            env = local(chart.env(name, init["name"]))
            await asyncio.to_thread(running[name].migrate, init["command"], env, secrets("migrate"))
            running[name].serve(local(chart.env(name)), secrets(name))
        urls = {f"{name}_url": f"http://127.0.0.1:{port}" for name, port in ports.items()}
        key_file = chart.env("booking")["AUTH_DEV_KEY_FILE"]
        key = workdir / f"booking-auth-dev-key/{Path(key_file).name}"  # as booking sees it
        tokens = DevTokens.from_file(key)
        client = SagaClient(Endpoints.model_validate(urls), timeout=10.0, tokens=tokens)
        live = ContainerStack(running, client, key_file)
        for name in building.SERVICES:
            for _ in range(300):
                if await live.client.ready(name):
                    break
                await asyncio.sleep(0.1)
            else:
                pytest.fail(f"{name} never answered /readyz\n{live.logs()}")
        yield live
        await live.client.aclose()
    finally:
        for container in running.values():
            await asyncio.to_thread(container.close)
        for name in running:
            await drop_database(f"img_{run_id}_{name}")
