"""migrations.job: one hook Job per service migrates, instead of every pod's init container.

On in values/production.yaml. The Jobs run `<service> migrate --wait <seconds>` at
post-install (the chart's own Postgres exists only then) and pre-upgrade (the schema is
expanded before the new pods roll out), with exactly the service's environment.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from chartkit import EXTERNAL_URLS, RELEASE, SERVICES, require, values_of

kubernetes_validate = require("kubernetes_validate", "kubernetes-validate")

JOB_ON = {"migrations": {"job": {"enabled": True}}, "defaults": {"migrate": {"enabled": False}}}


def with_jobs(name: str) -> dict[str, Any]:
    """A values file with the migration Jobs on and the init containers off."""
    # external.yaml names Secrets of yours, which a render cannot resolve: its URLs instead.
    values = copy.deepcopy(EXTERNAL_URLS) if name == "external-urls" else values_of(name)
    values.setdefault("migrations", {})["job"] = {"enabled": True}
    values.setdefault("defaults", {})["migrate"] = {"enabled": False}
    return values


def init_commands(render: Any, service: str) -> list[list[str]]:
    spec = render.deployment(service)["spec"]["template"]["spec"]
    return [container["command"] for container in spec.get("initContainers", [])]


def test_without_the_option_init_containers_migrate_and_no_job_exists(
    rendered: dict[str, Any],
) -> None:
    for name in ("default", "kind", "external", "pubsub"):
        assert not rendered[name].of_kind("Job"), name
    for service in SERVICES:
        assert init_commands(rendered["default"], service) == [
            [service, "migrate", "--wait", "120"]
        ]


def test_production_migrates_once_per_service_and_never_in_the_pods(
    rendered: dict[str, Any],
) -> None:
    render = rendered["production"]
    assert len(render.of_kind("Job")) == len(SERVICES)
    for service in SERVICES:
        (container,) = render.job(service)["spec"]["template"]["spec"]["containers"]
        assert container["command"] == [service, "migrate", "--wait", "120"]
        assert container["image"] == render.container(service)["image"] == f"saga/{service}:0.1.0"
        assert container["resources"] == render.container(service)["resources"]
        assert init_commands(render, service) == []


def test_the_jobs_are_post_install_and_pre_upgrade_hooks(rendered: dict[str, Any]) -> None:
    for service in SERVICES:
        annotations = rendered["production"].job(service)["metadata"]["annotations"]
        assert set(annotations["helm.sh/hook"].split(",")) == {"post-install", "pre-upgrade"}
        # Before hooks at the default weight 0; Helm sorts weights as integers.
        assert int(annotations["helm.sh/hook-weight"]) < 0
        # The last run (and its logs) stays until the next one replaces it.
        assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation"


def test_a_job_retries_a_few_times_then_gives_up(rendered: dict[str, Any]) -> None:
    for service in SERVICES:
        spec = rendered["production"].job(service)["spec"]
        assert spec["backoffLimit"] == 2
        assert spec["activeDeadlineSeconds"] == 300 > 120  # longer than migrate --wait
        assert spec["template"]["spec"]["restartPolicy"] == "Never"


@pytest.mark.parametrize("values_file", ["production", "external-urls", "kind"])
@pytest.mark.parametrize("service", SERVICES)
def test_a_job_gets_exactly_the_service_environment(
    render_values: Any, values_file: str, service: str
) -> None:
    render = render_values(with_jobs(values_file))
    pod = f"{RELEASE}-{service}-0"  # one pod name for both: CONSUMER_NAME follows it
    assert render.job_env(service, pod) == render.env(service)


def test_with_an_external_database_the_job_reads_your_secret(render_values: Any) -> None:
    render = render_values(with_jobs("external"))
    (container,) = render.job("payment")["spec"]["template"]["spec"]["containers"]
    env = {var["name"]: var for var in container["env"]}
    assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "saga-database-urls",
        "key": "payment-database-url",
    }
    service_env = render.container("payment")["env"]
    assert container["env"][-len(service_env) :] == service_env
    for obj in render.objects:
        kubernetes_validate.validate(obj, "1.31.0", strict=True)


def test_job_pods_are_labelled_as_migrations_apart_from_the_services(
    rendered: dict[str, Any],
) -> None:
    render = rendered["production"]
    for service in SERVICES:
        labels = render.job(service)["spec"]["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/component"] == "migration"
        assert labels["app.kubernetes.io/name"] == f"{service}-migration"
        selector = render.get("Service", f"saga-{service}")["spec"]["selector"]
        assert not all(labels.get(key) == value for key, value in selector.items())


def test_a_disabled_service_gets_no_job(render_values: Any) -> None:
    render = render_values({**JOB_ON, "services": {"invoice": {"enabled": False}}})
    assert {job["metadata"]["name"] for job in render.of_kind("Job")} == {
        f"saga-{service}-migrate" for service in SERVICES if service != "invoice"
    }


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"migrations": {"job": {"enabled": True}}}, "set defaults.migrate.enabled=false"),
        (
            {**JOB_ON, "services": {"billing": {"migrate": {"enabled": True}}}},
            "billing still migrates in an init container",
        ),
        (
            {**JOB_ON, "migrations": {"job": {"enabled": True, "activeDeadlineSeconds": 60}}},
            "activeDeadlineSeconds must exceed",
        ),
    ],
)
def test_contradictory_migration_settings_fail_with_what_to_set(
    render_values: Any, values: dict[str, Any], message: str
) -> None:
    with pytest.raises(Exception, match=message):
        render_values(values)
