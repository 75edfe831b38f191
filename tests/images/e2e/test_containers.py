"""The images as Kubernetes runs them: read-only root, uid 10001, the saga end to end."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(1200)  # the first run debootstraps and builds every image

SERVICES = ("booking", "manager", "billing", "payment", "invoice")


async def start_saga(stack: Any, credit: Decimal, amount: Decimal) -> str:
    """Give a new customer `credit`, book for `amount`, wait for the bill and pay it."""
    customer = f"img-{uuid.uuid4().hex[:8]}"
    await stack.client.set_credit(customer, credit)
    booking = await stack.client.book(customer, "Room 7", amount)
    await stack.wait_for("payment", f"/payments/{booking['id']}", "status", "awaiting_payment")
    response = await stack.client.pay(booking["id"], customer)
    assert response.status_code == 200, response.text
    return str(booking["id"])


async def test_a_paid_booking_is_reserved_across_the_five_containers(stack: Any) -> None:
    booking_id = await start_saga(stack, Decimal("500.00"), Decimal("120.00"))
    await stack.wait_for("booking", f"/bookings/{booking_id}", "status", "reserved")
    await stack.wait_for("billing", f"/bills/{booking_id}", "status", "paid")
    invoice = await stack.client.find("invoice", f"/invoices/{booking_id}")
    assert invoice is not None and invoice["total"] == "120.00"


async def test_insufficient_funds_fails_booking_and_bill_across_the_containers(
    stack: Any,
) -> None:
    booking_id = await start_saga(stack, Decimal("50.00"), Decimal("120.00"))
    booking = await stack.wait_for("booking", f"/bookings/{booking_id}", "status", "failed")
    assert "insufficient funds" in booking["reason"]
    await stack.wait_for("billing", f"/bills/{booking_id}", "status", "failed")


def test_every_service_process_runs_as_uid_10001(stack: Any) -> None:
    assert {name: c.server_uid() for name, c in stack.containers.items()} == dict.fromkeys(
        SERVICES, 10001
    )


@pytest.mark.parametrize("service", SERVICES)
def test_the_dev_key_is_mounted_read_only_for_the_service_user(stack: Any, service: str) -> None:
    container = stack.containers[service]
    script = "import sys; from pathlib import Path; from sagakit.devauth import load_key; "
    script += "load_key(Path(sys.argv[1])); print('read')"
    read = container.exec("python3", "-c", script, stack.key_file)
    assert read.stdout == "read\n", read.stderr  # as uid 10001, through the fsGroup
    denied = container.exec("sh", "-c", f"echo x >> {stack.key_file}", user="0:0")
    assert denied.returncode != 0 and "cannot create" in denied.stderr  # not even root
    folder = str(Path(stack.key_file).parent)
    folder = container.exec("readlink", "-f", folder).stdout.strip()  # /var/run is /run
    mounted = container.exec("cat", "/proc/self/mountinfo").stdout.splitlines()
    (options,) = [line.split()[5] for line in mounted if line.split()[4] == folder]
    assert "ro" in options.split(","), options


@pytest.mark.parametrize("service", SERVICES)
def test_the_root_filesystem_is_read_only_and_tmp_is_writable(stack: Any, service: str) -> None:
    container = stack.containers[service]
    for path in ("/probe", "/opt/venv/probe", f"/opt/venv/bin/{service}"):
        denied = container.exec("sh", "-c", f"echo x >> {path}", user="0:0")  # even for root
        assert "Read-only file system" in denied.stderr, path
    assert container.exec("sh", "-c", "echo x > /tmp/probe && cat /tmp/probe").stdout == "x\n"


@pytest.mark.parametrize("service", SERVICES)
def test_the_image_runs_its_service_as_the_chart_expects(stack: Any, service: str) -> None:
    container = stack.containers[service]
    config = container.config
    assert config.user == "10001:10001"
    assert (config.env["SERVICE"], config.cmd) == (service, ["serve"])
    assert config.exposed_ports == ["8000/tcp"]
    assert (config.env["HOST"], config.env["PORT"]) == ("0.0.0.0", "8000")
    assert config.env["PYTHONDONTWRITEBYTECODE"] == "1"
    # The entrypoint's shell replaced itself: PID 1 is the service, which gets SIGTERM.
    assert container.server_command()[-2:] == [f"/opt/venv/bin/{service}", "serve"]
    # The chart's own `command: [<service>, serve]` finds the same program without a shell.
    found = container.exec("sh", "-c", f"command -v {service} && {service} --help")
    assert found.returncode == 0, found.stderr
    assert found.stdout.startswith(f"/opt/venv/bin/{service}\n")
    assert "serve" in found.stdout and "migrate" in found.stdout


@pytest.mark.parametrize("service", ["nope", None])
def test_an_unknown_or_missing_service_fails_the_build_with_a_clear_message(
    build_service: Any, service: str | None
) -> None:
    failed = build_service(service)
    assert failed.returncode != 0
    message = f"SERVICE='{service or ''}' is not a saga service"
    assert message in failed.stdout + failed.stderr


@pytest.mark.parametrize("service", SERVICES)
def test_the_image_keeps_no_build_tools_or_sources(stack: Any, service: str) -> None:
    rootfs = stack.containers[service].rootfs
    leftovers = ("opt/uv", "opt/venv/bin/uv", "usr/local/bin/uv", "src", "delta", "root/.cache")
    for leftover in (*leftovers, "tmp/before-sync"):
        assert not (rootfs / leftover).exists(), leftover
    site_packages = next((rootfs / "opt/venv/lib").glob("python3.*/site-packages"))
    assert (site_packages / service / "migrations" / "env.py").is_file()  # not editable
    for pth in site_packages.glob("*.pth"):  # an editable install would point at /src
        assert "/src" not in pth.read_text(), pth.name


def test_the_five_images_share_the_base_and_add_one_layer_each(
    stack: Any, images: dict[str, str]
) -> None:
    base = stack.image_config(images["base"]).layers
    for service, container in stack.containers.items():
        layers = container.config.layers
        assert layers[: len(base)] == base, service
        assert len(layers) == len(base) + 1, service
