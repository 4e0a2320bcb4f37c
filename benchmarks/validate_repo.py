"""`plinth validate --render` over a generated claim repository of 200 claims, as its CI runs.

Run: `make bench` (or `.venv/bin/python benchmarks/validate_repo.py [--claims N]`). The
repository is examples/claim-repo/ (teams/<team>/ folders, the platform file at the top) with
AppClaim variants under other names until it holds N claims. Prints wall and CPU seconds.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def generate(root: Path, claims: int) -> int:
    shutil.copytree(REPO / "examples" / "claim-repo" / "teams", root / "teams")
    shutil.copy(REPO / "examples" / "platform.yaml", root / "platform.yaml")
    apps = sorted((root / "teams").glob("*/app-*.yaml"))
    count = len(list((root / "teams").glob("*/*.yaml")))
    i = 0
    while count < claims:
        template = apps[i % len(apps)]
        doc = yaml.safe_load(template.read_text())
        doc["metadata"]["name"] = f"{doc['metadata']['name']}-{i:03d}"
        (template.parent / f"app-{doc['metadata']['name']}.yaml").write_text(yaml.safe_dump(doc))
        count += 1
        i += 1
    return count


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--claims", type=int, default=200)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        n = generate(root, args.claims)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        r = subprocess.run(
            [sys.executable, "-m", "plinth.cli", "validate", "--render", "-o", "json", str(root)],
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    report = json.loads(r.stdout) if r.stdout.startswith("{") else {}
    print(
        f"plinth validate --render, {n} claims: exit {r.returncode}, "
        f"{report.get('documents')} documents, {report.get('rendered')} rendered, "
        f"{len(report.get('issues', []))} issues; {wall:.1f} s wall, {cpu:.1f} s CPU"
    )


if __name__ == "__main__":
    main()
