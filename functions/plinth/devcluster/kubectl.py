"""kubectl against the dev cluster, with its discovery cache beside the kubeconfig."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml


def kubectl_run(
    kubeconfig: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    # kubectl caches discovery per server under ~/.kube/cache; every dev cluster has a new port,
    # so keep the cache beside the kubeconfig, where `down` removes it with the rest.
    return subprocess.run(
        [
            "kubectl",
            "--kubeconfig",
            str(kubeconfig),
            "--cache-dir",
            str(kubeconfig.parent / "kube-cache"),
            *args,
        ],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )


def kubectl(kubeconfig: Path, *args: str, stdin: str | None = None, check: bool = True) -> str:
    r = kubectl_run(kubeconfig, *args, stdin=stdin)
    if check and r.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


def apply(kubeconfig: Path, docs: Iterable[dict[str, Any]]) -> None:
    text = yaml.safe_dump_all(list(docs), sort_keys=False)
    kubectl(kubeconfig, "apply", "--server-side", "--force-conflicts", "-f", "-", stdin=text)
