"""The real Helm, for tests of the service template's chart, and the Pod Security Standards
checks its output must pass (https://kubernetes.io/docs/concepts/security/pod-security-standards/)."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
CHART = REPO / "templates" / "service" / "chart"


def helm_binary() -> str:
    """The pinned helm (hack/build-tools.sh builds it once and caches it outside the repo)."""
    r = subprocess.run(
        [str(REPO / "hack" / "build-tools.sh"), "--print-path", "helm"],
        capture_output=True,
        text=True,
        check=False,
    )
    if r.returncode != 0:
        raise RuntimeError(f"building helm failed: {r.stderr.strip()[-2000:]}")
    return r.stdout.strip()


def render_chart(
    values: dict[str, Any], namespace: str = "team", release: str = "app"
) -> list[dict[str, Any]]:
    """`helm template` of the chart with `values` layered over its own values files."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        yaml.safe_dump(values, f)
        f.flush()
        r = subprocess.run(
            [
                helm_binary(),
                "template",
                release,
                str(CHART),
                "--namespace",
                namespace,
                "-f",
                str(CHART / "values.yaml"),
                "-f",
                str(CHART / "values-image.yaml"),
                "-f",
                f.name,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    if r.returncode != 0:
        raise AssertionError(f"helm template failed: {r.stderr}")
    return [d for d in yaml.safe_load_all(r.stdout) if d]


_BASELINE_CAPS = {
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
    "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}  # fmt: skip
_RESTRICTED_VOLUMES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
    "projected", "secret",
}  # fmt: skip
_SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}  # fmt: skip


def _pod_spec(manifest: dict[str, Any]) -> dict[str, Any] | None:
    kind = manifest.get("kind")
    if kind == "Pod":
        return manifest.get("spec") or {}
    if kind == "CronJob":
        return manifest["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        return manifest["spec"]["template"]["spec"]
    return None


def pod_security_violations(manifests: list[dict[str, Any]], level: str) -> list[str]:
    """What keeps each pod template from admission at `level` (baseline or restricted)."""
    assert level in ("baseline", "restricted")
    out: list[str] = []
    for m in manifests:
        spec = _pod_spec(m)
        if spec is None:
            continue
        where = f"{m['kind']}/{m['metadata']['name']}"
        out += [f"{where}: {v}" for v in _baseline(spec)]
        if level == "restricted":
            out += [f"{where}: {v}" for v in _restricted(spec)]
    return out


def _containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        *spec.get("containers", []),
        *spec.get("initContainers", []),
        *spec.get("ephemeralContainers", []),
    ]


def _baseline(spec: dict[str, Any]) -> list[str]:
    out = []
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key):
            out.append(f"{key} is set")
    pod_ctx = spec.get("securityContext") or {}
    for opt in (pod_ctx.get("seLinuxOptions"),):
        if opt and (opt.get("user") or opt.get("role")):
            out.append("pod seLinuxOptions user/role set")
    if (pod_ctx.get("seccompProfile") or {}).get("type") == "Unconfined":
        out.append("pod seccompProfile Unconfined")
    for s in pod_ctx.get("sysctls", []):
        if s.get("name") not in _SAFE_SYSCTLS:
            out.append(f"unsafe sysctl {s.get('name')}")
    if (pod_ctx.get("appArmorProfile") or {}).get("type") == "Unconfined":
        out.append("pod appArmorProfile Unconfined")
    for v in spec.get("volumes", []):
        if "hostPath" in v:
            out.append(f"hostPath volume {v.get('name')}")
    for c in _containers(spec):
        name = c.get("name")
        ctx = c.get("securityContext") or {}
        if ctx.get("privileged"):
            out.append(f"container {name} is privileged")
        added = set((ctx.get("capabilities") or {}).get("add", []))
        if added - _BASELINE_CAPS:
            out.append(f"container {name} adds capabilities {sorted(added - _BASELINE_CAPS)}")
        for p in c.get("ports", []):
            if p.get("hostPort"):
                out.append(f"container {name} uses hostPort {p['hostPort']}")
        if ctx.get("procMount") not in (None, "Default"):
            out.append(f"container {name} procMount {ctx['procMount']}")
        if (ctx.get("seccompProfile") or {}).get("type") == "Unconfined":
            out.append(f"container {name} seccompProfile Unconfined")
        if (ctx.get("appArmorProfile") or {}).get("type") == "Unconfined":
            out.append(f"container {name} appArmorProfile Unconfined")
        se = ctx.get("seLinuxOptions") or {}
        if se.get("user") or se.get("role"):
            out.append(f"container {name} seLinuxOptions user/role set")
    return out


def _restricted(spec: dict[str, Any]) -> list[str]:
    out = []
    pod_ctx = spec.get("securityContext") or {}
    for v in spec.get("volumes", []):
        kinds = set(v) - {"name"}
        if not kinds <= _RESTRICTED_VOLUMES:
            out.append(f"volume {v.get('name')} of type {sorted(kinds)} not allowed")
    pod_seccomp = (pod_ctx.get("seccompProfile") or {}).get("type")
    if pod_ctx.get("runAsUser") == 0:
        out.append("pod runAsUser 0")
    for c in _containers(spec):
        name = c.get("name")
        ctx = c.get("securityContext") or {}
        if ctx.get("allowPrivilegeEscalation") is not False:
            out.append(f"container {name}: allowPrivilegeEscalation must be false")
        if (
            not (ctx.get("runAsNonRoot") or pod_ctx.get("runAsNonRoot"))
            or ctx.get("runAsNonRoot") is False
        ):
            out.append(f"container {name}: runAsNonRoot must be true")
        if ctx.get("runAsUser") == 0:
            out.append(f"container {name}: runAsUser 0")
        seccomp = (ctx.get("seccompProfile") or {}).get("type") or pod_seccomp
        if seccomp not in ("RuntimeDefault", "Localhost"):
            out.append(f"container {name}: seccompProfile must be RuntimeDefault or Localhost")
        caps = ctx.get("capabilities") or {}
        if "ALL" not in caps.get("drop", []):
            out.append(f"container {name}: capabilities must drop ALL")
        if set(caps.get("add", [])) - {"NET_BIND_SERVICE"}:
            out.append(f"container {name}: may only add NET_BIND_SERVICE")
    return out
