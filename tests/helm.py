"""The real Helm for tests of the service template's chart, the chart's values contract, and the
Pod Security Standards checks its output must pass.

Other tests import this module: the AppClaim composer's tests compare the Argo CD Application's
`valuesObject` with `VALUES_KEYS` (via `values_keys`), render it with `render_chart`, and may
compare the repository variables they set with `WORKFLOW_VARIABLES`.
"""

from __future__ import annotations

import functools
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import yaml

from plinth.tools.engine import binary

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "templates" / "service"
CHART = TEMPLATE / "chart"
# What Argo CD passes as helm.valueFiles, in this order; valuesObject then overrides both.
VALUE_FILES = ("values.yaml", "values-image.yaml")

# The values contract between Plinth and the chart, as dotted paths of its leaves. `resources`
# is one leaf: a Kubernetes ResourceRequirements the chart passes through whole, so Plinth may
# leave out the CPU limit. Plinth's Application passes every key but CI_VALUES_KEYS.
VALUES_KEYS: frozenset[str] = frozenset(
    {
        "app",
        "environment",
        "image.repository",
        "image.tag",
        "replicaCount",
        "port",
        "healthPath",
        "resources",
        "serviceAccountName",
        "configMapName",
        "secretName",
        "ingress.enabled",
        "ingress.host",
        "ingress.className",
        "ingress.tlsSecretName",
        "autoscaling.enabled",
        "autoscaling.minReplicas",
        "autoscaling.maxReplicas",
        "autoscaling.targetCPUUtilizationPercentage",
    }
)
# Written by CI to chart/values-image.yaml on the deploy branch, never by Plinth.
CI_VALUES_KEYS: frozenset[str] = frozenset({"image.tag"})
OPAQUE_VALUES = frozenset({"resources"})
# The GitHub Actions variables Plinth sets on the repository: exactly what the template's
# workflow (.github/workflows/build.yaml) reads.
WORKFLOW_VARIABLES: frozenset[str] = frozenset(
    {
        "PLINTH_CI_ROLE_ARN",
        "PLINTH_AWS_REGION",
        "PLINTH_IMAGE_REPOSITORY",
        "PLINTH_ENVIRONMENTS",
        "PLINTH_APP",
    }
)


def values_keys(values: dict[str, Any], prefix: str = "") -> set[str]:
    """The dotted leaf paths of `values`, comparable with VALUES_KEYS."""
    out: set[str] = set()
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and path not in OPAQUE_VALUES:
            out |= values_keys(value, f"{path}.")
        else:
            out.add(path)
    return out


@functools.cache
def helm_binary() -> str:
    return binary("helm")


def render_chart(
    values: dict[str, Any], release: str = "app", namespace: str = "team"
) -> list[dict[str, Any]]:
    """`helm template` of the chart as Argo CD renders it: the chart's value files, then `values`
    (the Application's valuesObject) on top."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="values-") as f:
        yaml.safe_dump(values, f)
        f.flush()
        args = [helm_binary(), "template", release, str(CHART), "--namespace", namespace]
        for name in VALUE_FILES:
            args += ["-f", str(CHART / name)]
        r = subprocess.run([*args, "-f", f.name], capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise AssertionError(f"helm template failed:\n{r.stderr}")
    return [d for d in yaml.safe_load_all(r.stdout) if d]


# --- Pod Security Standards -------------------------------------------------------------------
# https://kubernetes.io/docs/concepts/security/pod-security-standards/, checked as the Pod
# Security Admission controller's "latest" policy version does (k8s.io/pod-security-admission
# v0.34, policy/check_*.go): each violation names PSA's check ID. Not modelled: the relaxations
# behind the alpha feature gate UserNamespacesPodSecurityStandards (pods with hostUsers: false),
# so this is never more permissive than a default API server.

Level = Literal["baseline", "restricted"]
Meta = dict[str, Any]
Spec = dict[str, Any]

_DEFAULT_CAPABILITIES = {
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}  # fmt: skip
_SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
}  # fmt: skip
_SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
_RESTRICTED_VOLUME_SOURCES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image", "persistentVolumeClaim",
    "projected", "secret",
}  # fmt: skip
_APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"
_WORKLOADS = {
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ReplicationController",
    "Job",
}


def pod_templates(manifest: dict[str, Any]) -> tuple[Meta, Spec] | None:
    """The pod metadata and spec a manifest creates pods from, if any."""
    kind = manifest.get("kind")
    if kind == "Pod":
        return manifest.get("metadata") or {}, manifest.get("spec") or {}
    if kind == "PodTemplate":
        template = manifest.get("template") or {}
    elif kind == "CronJob":
        template = manifest["spec"]["jobTemplate"]["spec"]["template"]
    elif kind in _WORKLOADS:
        template = manifest["spec"]["template"]
    else:
        return None
    return template.get("metadata") or {}, template.get("spec") or {}


def pod_security_violations(manifests: list[dict[str, Any]], level: Level) -> list[str]:
    """What keeps each pod (template) from admission at `level`, as "Kind/name: checkID: why"."""
    if level not in ("baseline", "restricted"):
        raise ValueError(f"level must be baseline or restricted, not {level!r}")
    checks = _BASELINE_CHECKS | (_RESTRICTED_CHECKS if level == "restricted" else {})
    if level == "restricted":
        # As PSA: a restricted check replaces the baseline check it tightens.
        for overridden in ("hostPathVolumes", "capabilities_baseline", "seccompProfile_baseline"):
            del checks[overridden]
    out: list[str] = []
    for m in manifests:
        pod = pod_templates(m)
        if pod is None:
            continue
        where = f"{m.get('kind')}/{(m.get('metadata') or {}).get('name')}"
        for check_id, check in checks.items():
            out += [f"{where}: {check_id}: {why}" for why in check(*pod)]
    return out


def _containers(spec: Spec) -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, container) for init, regular and ephemeral containers, as PSA's visitContainers."""
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for c in spec.get(key) or []:
            yield c.get("name", "?"), c


def _ctx(c: dict[str, Any]) -> dict[str, Any]:
    return c.get("securityContext") or {}


def _pod_ctx(spec: Spec) -> dict[str, Any]:
    return spec.get("securityContext") or {}


def _windows(spec: Spec) -> bool:
    return (spec.get("os") or {}).get("name") == "windows"


def _for_pod_and_containers(
    spec: Spec, bad: Callable[[dict[str, Any]], str | None]
) -> Iterator[str]:
    """`bad(securityContext)` for the pod's and each container's security context."""
    if (why := bad(_pod_ctx(spec))) is not None:
        yield f"pod {why}"
    for name, c in _containers(spec):
        if (why := bad(_ctx(c))) is not None:
            yield f"container {name} {why}"


# Baseline


def _windows_host_process(_: Meta, spec: Spec) -> Iterator[str]:
    def bad(ctx: dict[str, Any]) -> str | None:
        host_process = (ctx.get("windowsOptions") or {}).get("hostProcess")
        return "sets windowsOptions.hostProcess=true" if host_process else None

    yield from _for_pod_and_containers(spec, bad)


def _host_namespaces(_: Meta, spec: Spec) -> Iterator[str]:
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key):
            yield f"{key}=true"


def _privileged(_: Meta, spec: Spec) -> Iterator[str]:
    for name, c in _containers(spec):
        if _ctx(c).get("privileged"):
            yield f"container {name} is privileged"


def _capabilities_baseline(_: Meta, spec: Spec) -> Iterator[str]:
    for name, c in _containers(spec):
        added = set((_ctx(c).get("capabilities") or {}).get("add") or []) - _DEFAULT_CAPABILITIES
        if added:
            yield f"container {name} adds {sorted(added)}"


def _host_path_volumes(_: Meta, spec: Spec) -> Iterator[str]:
    for v in spec.get("volumes") or []:
        if v.get("hostPath") is not None:
            yield f"volume {v.get('name')} is a hostPath"


def _host_ports(_: Meta, spec: Spec) -> Iterator[str]:
    for name, c in _containers(spec):
        for p in c.get("ports") or []:
            if p.get("hostPort"):
                yield f"container {name} uses hostPort {p['hostPort']}"


def _app_armor_profile(meta: Meta, spec: Spec) -> Iterator[str]:
    def bad(ctx: dict[str, Any]) -> str | None:
        kind = (ctx.get("appArmorProfile") or {"type": "RuntimeDefault"}).get("type")
        return None if kind in ("RuntimeDefault", "Localhost") else f"sets AppArmor {kind}"

    yield from _for_pod_and_containers(spec, bad)
    for key, value in sorted((meta.get("annotations") or {}).items()):
        if key.startswith(_APPARMOR_ANNOTATION) and not (
            value in ("", "runtime/default") or value.startswith("localhost/")
        ):
            yield f"annotation {key}={value}"


def _se_linux_options(_: Meta, spec: Spec) -> Iterator[str]:
    def bad(ctx: dict[str, Any]) -> str | None:
        opts = ctx.get("seLinuxOptions")
        if opts is None:
            return None
        if opts.get("type", "") not in _SELINUX_TYPES:
            return f"sets SELinux type {opts['type']}"
        if opts.get("user") or opts.get("role"):
            return "sets SELinux user or role"
        return None

    yield from _for_pod_and_containers(spec, bad)


def _proc_mount(_: Meta, spec: Spec) -> Iterator[str]:
    for name, c in _containers(spec):
        if _ctx(c).get("procMount", "Default") != "Default":
            yield f"container {name} procMount {_ctx(c)['procMount']}"


def _seccomp_type(ctx: dict[str, Any]) -> str | None:
    profile = ctx.get("seccompProfile")
    return None if profile is None else str(profile.get("type"))


def _seccomp_profile_baseline(_: Meta, spec: Spec) -> Iterator[str]:
    def bad(ctx: dict[str, Any]) -> str | None:
        kind = _seccomp_type(ctx)
        return None if kind in (None, "RuntimeDefault", "Localhost") else f"seccomp {kind}"

    yield from _for_pod_and_containers(spec, bad)


def _sysctls(_: Meta, spec: Spec) -> Iterator[str]:
    for s in _pod_ctx(spec).get("sysctls") or []:
        if s.get("name") not in _SAFE_SYSCTLS:
            yield f"unsafe sysctl {s.get('name')}"


def _host_probes_and_host_lifecycle(_: Meta, spec: Spec) -> Iterator[str]:
    for name, c in _containers(spec):
        handlers = [c.get(p) for p in ("livenessProbe", "readinessProbe", "startupProbe")]
        handlers += [(c.get("lifecycle") or {}).get(h) for h in ("postStart", "preStop")]
        for h in filter(None, handlers):
            for action in ("httpGet", "tcpSocket"):
                if host := (h.get(action) or {}).get("host"):
                    yield f"container {name} probes or hooks host {host}"


# Restricted


def _restricted_volumes(_: Meta, spec: Spec) -> Iterator[str]:
    for v in spec.get("volumes") or []:
        sources = set(v) - {"name"}
        if not sources & _RESTRICTED_VOLUME_SOURCES:
            yield f"volume {v.get('name')} uses {sorted(sources) or 'no allowed source'}"


def _allow_privilege_escalation(_: Meta, spec: Spec) -> Iterator[str]:
    if _windows(spec):
        return
    for name, c in _containers(spec):
        if _ctx(c).get("allowPrivilegeEscalation") is not False:
            yield f"container {name} must set allowPrivilegeEscalation=false"


def _run_as_non_root(_: Meta, spec: Spec) -> Iterator[str]:
    pod = _pod_ctx(spec).get("runAsNonRoot")
    if pod is False:
        yield "pod sets runAsNonRoot=false"
    for name, c in _containers(spec):
        mine = _ctx(c).get("runAsNonRoot")
        if mine is False:
            yield f"container {name} sets runAsNonRoot=false"
        elif mine is None and pod is not True:
            yield f"container {name}: neither it nor the pod sets runAsNonRoot=true"


def _run_as_user(_: Meta, spec: Spec) -> Iterator[str]:
    def bad(ctx: dict[str, Any]) -> str | None:
        return "sets runAsUser=0" if ctx.get("runAsUser") == 0 else None

    yield from _for_pod_and_containers(spec, bad)


def _seccomp_profile_restricted(_: Meta, spec: Spec) -> Iterator[str]:
    if _windows(spec):
        return
    valid = ("RuntimeDefault", "Localhost")
    pod = _seccomp_type(_pod_ctx(spec))
    if pod is not None and pod not in valid:
        yield f"pod seccomp {pod}"
    for name, c in _containers(spec):
        mine = _seccomp_type(_ctx(c))
        if mine is not None and mine not in valid:
            yield f"container {name} seccomp {mine}"
        elif mine is None and pod not in valid:
            yield f"container {name}: neither it nor the pod sets seccomp RuntimeDefault/Localhost"


def _capabilities_restricted(_: Meta, spec: Spec) -> Iterator[str]:
    if _windows(spec):
        return
    for name, c in _containers(spec):
        caps = _ctx(c).get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            yield f"container {name} must drop ALL capabilities"
        added = set(caps.get("add") or []) - {"NET_BIND_SERVICE"}
        if added:
            yield f"container {name} may add only NET_BIND_SERVICE, adds {sorted(added)}"


_Check = Callable[[Meta, Spec], Iterator[str]]
_BASELINE_CHECKS: dict[str, _Check] = {
    "windowsHostProcess": _windows_host_process,
    "hostNamespaces": _host_namespaces,
    "privileged": _privileged,
    "capabilities_baseline": _capabilities_baseline,
    "hostPathVolumes": _host_path_volumes,
    "hostPorts": _host_ports,
    "appArmorProfile": _app_armor_profile,
    "seLinuxOptions": _se_linux_options,
    "procMount": _proc_mount,
    "seccompProfile_baseline": _seccomp_profile_baseline,
    "sysctls": _sysctls,
    "hostProbesAndHostLifecycle": _host_probes_and_host_lifecycle,
}
_RESTRICTED_CHECKS: dict[str, _Check] = {
    "restrictedVolumes": _restricted_volumes,
    "allowPrivilegeEscalation": _allow_privilege_escalation,
    "runAsNonRoot": _run_as_non_root,
    "runAsUser": _run_as_user,
    "seccompProfile_restricted": _seccomp_profile_restricted,
    "capabilities_restricted": _capabilities_restricted,
}
