"""The upstream schemas bundled with Plinth (plinth/tools/schema_data), which `plinth validate`
uses wherever Plinth is installed: no ../shared/crds beside it, no network.

* the checked-in bundle is exactly what ../shared/crds regenerates, byte for byte, with
  provenance that matches the source files and no `description` fields;
* every custom kind an example composes, in any phase and both flavors, and every custom kind
  of gitops/ and templates/ has its schema in the bundle;
* validating with the bundle gives the same issues as validating with the upstream CRDs, for
  the examples, what they render, and broken variants of it (unknown fields, CEL rules);
* `plinth validate --render examples/` passes from a directory with no ../shared, and a package
  built from pyproject.toml carries the bundle.
"""

from __future__ import annotations

import copy
import fnmatch
import functools
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from conftest import EXAMPLES, REPO
from lifecycles import rendered_bodies
from plinth.cli import main
from plinth.tools import schemas
from plinth.tools.crds import CrdStore
from plinth.tools.schemas import DATA_DIR, SchemaBundle, SchemaError
from plinth.tools.validate import Validator
from plinth.tools.yamlio import read_path

SHARED = REPO.parent / "shared" / "crds"
GITOPS = REPO / "gitops"
TEMPLATES = REPO / "templates"
Body = dict[str, Any]
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def shared_crds() -> Path:
    """../shared/crds, the bundle's source; only a checkout without it skips (never CI)."""
    if SHARED.is_dir():
        return SHARED
    if os.environ.get("CI") == "true":
        pytest.fail(f"{SHARED} is missing: CI must check the bundle against its source")
    pytest.skip(f"{SHARED} is absent: the bundle cannot be compared with its source here")


# --- what the examples compose, phase by phase -----------------------------------------------


def _objects(node: Any) -> Iterator[Body]:
    """Every mapping with an apiVersion and a kind, nested ones included (Object manifests)."""
    if isinstance(node, dict):
        if isinstance(node.get("apiVersion"), str) and isinstance(node.get("kind"), str):
            yield node
        for v in node.values():
            yield from _objects(v)
    elif isinstance(node, list):
        for v in node:
            yield from _objects(v)


_VERSIONED = re.compile(r"^[a-z0-9.-]+\.[a-z]+/v[0-9a-z]+$")
_KIND = re.compile(r"^[A-Z][A-Za-z0-9]*$")
# Not Kubernetes objects at all: Backstage's own entities (tests/test_backstage.py checks them).
NOT_KUBERNETES = ("scaffolder.backstage.io",)


def _custom(api_version: str, kind: str) -> bool:
    """A kind with an upstream CRD: a dotted group that is neither Kubernetes' nor Plinth's."""
    group = api_version.split("/", maxsplit=1)[0]
    return (
        bool(_VERSIONED.match(api_version) and _KIND.match(kind))
        and not group.endswith(".k8s.io")
        and not group.endswith("plinth.dev")
        and group not in NOT_KUBERNETES
    )


def _manifest_kinds(root: Path) -> set[tuple[str, str]]:
    """The kinds of every YAML file under root: parsed, or (Helm templates) read as text."""
    found: set[tuple[str, str]] = set()
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.suffix not in (".yaml", ".yml"):
            continue
        text = path.read_text()
        try:
            docs = list(yaml.safe_load_all(text))
        except yaml.YAMLError:
            docs = []
            found.update(
                re.findall(r"^\s*apiVersion:\s*(\S+)\s*\n\s*kind:\s*(\S+)\s*$", text, re.M)
            )
        for doc in docs:
            found.update((o["apiVersion"], o["kind"]) for o in _objects(doc))
    return {k for k in found if _custom(*k)}


def test_every_kind_plinth_composes_or_ships_has_a_bundled_schema() -> None:
    composed = {
        (o["apiVersion"], o["kind"])
        for _, body in rendered_bodies()
        for o in _objects(body)
        if _custom(o["apiVersion"], o["kind"])
    }
    shipped = _manifest_kinds(GITOPS) | _manifest_kinds(TEMPLATES) | _manifest_kinds(EXAMPLES)
    # Both flavors, the nested Object manifests and later phases are all in there.
    for expected in (
        ("ec2.aws.m.upbound.io/v1beta1", "VPC"),
        ("ec2.aws.upbound.io/v1beta2", "Route"),
        ("kubernetes.crossplane.io/v1alpha2", "Object"),
        ("argoproj.io/v1alpha1", "Application"),
        ("rds.aws.m.upbound.io/v1beta1", "Instance"),
    ):
        assert expected in composed, expected
    assert ("pkg.crossplane.io/v1", "Provider") in shipped
    bundle = SchemaBundle()
    missing = sorted(k for k in composed | shipped if bundle.get(*k) is None)
    assert not missing, (
        f"no bundled schema for {missing}: add `group/Kind` to "
        "functions/plinth/tools/schema_data/kinds.txt and run "
        "`plinth schemas update --from ../shared/crds`"
    )


def test_the_kinds_the_issue_names_are_bundled() -> None:
    """Kinds later work composes: their CRDs are in ../shared/crds already."""
    listed = set(schemas.read_kinds(DATA_DIR / schemas.KINDS_FILE))
    for group in ("s3control.aws.m.upbound.io", "s3control.aws.upbound.io"):
        assert (group, "AccountPublicAccessBlock") in listed
    assert {
        ("karpenter.sh", "NodePool"),
        ("karpenter.k8s.aws", "EC2NodeClass"),
        ("kyverno.io", "ClusterPolicy"),
        ("kyverno.io", "Policy"),
        ("kyverno.io", "PolicyException"),
    } <= listed
    bundle = SchemaBundle()
    assert bundle.get("karpenter.sh/v1", "NodePool") is not None
    assert bundle.get("kyverno.io/v1", "ClusterPolicy") is not None


# --- the bundle is its source, regenerated -----------------------------------------------------


def test_the_bundle_is_what_shared_crds_regenerate(tmp_path: Path) -> None:
    source = shared_crds()
    fresh = tmp_path / "bundle"
    report = schemas.update(source, fresh)
    assert not report.missing, report.missing
    checked_in = {p.name: p.read_bytes() for p in sorted(DATA_DIR.iterdir()) if p.is_file()}
    regenerated = {p.name: p.read_bytes() for p in sorted(fresh.iterdir())}
    assert sorted(regenerated) == sorted(checked_in), (
        "run `plinth schemas update --from ../shared/crds`"
    )
    stale = [
        n
        for n in checked_in
        if n.endswith(".gz") and gzip.decompress(checked_in[n]) != gzip.decompress(regenerated[n])
    ]
    assert not stale, f"stale (run `plinth schemas update --from ../shared/crds`): {stale}"
    # Same content and same bytes: gzip without mtime or name, sorted keys.
    differ = [n for n in checked_in if checked_in[n] != regenerated[n]]
    assert not differ, f"same JSON, different gzip bytes (another zlib?): {differ}"


def test_every_file_is_in_canonical_form() -> None:
    for path, entry in SchemaBundle().entries():
        assert schemas.encode(entry) == path.read_bytes(), path.name
        assert path.name == schemas.file_name(entry["group"], entry["kind"])
        assert entry["format"] == schemas.FORMAT
        assert entry["versions"], f"{path.name}: no served version"


def _described(node: Any, where: str, parent: str | None = None) -> Iterator[str]:
    """Paths of `description` keys that are schema keywords (a property named `description`
    is a field and stays; default and example values are data)."""
    if isinstance(node, dict):
        if "description" in node and parent != "properties":
            yield where
        for k, v in node.items():
            if parent == "properties" or k not in ("default", "example", "enum"):
                yield from _described(v, f"{where}.{k}", None if parent == "properties" else k)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _described(v, f"{where}[{i}]", parent)


def test_no_description_anywhere_in_the_bundle() -> None:
    found = []
    for path, entry in SchemaBundle().entries():
        found += list(_described(entry, path.name))
    assert not found, found[:10]
    # The walk is not blind: fields named description (IAM Role's, for one) are still there.
    role = SchemaBundle().get("iam.aws.m.upbound.io/v1beta1", "Role")
    assert role is not None
    assert (
        "description"
        in role.schema["properties"]["spec"]["properties"]["forProvider"]["properties"]
    )


def test_provenance_matches_the_source_files() -> None:
    source = shared_crds()
    table = schemas.read_provenance_table(source)
    seen = 0
    for path, entry in SchemaBundle().entries():
        prov = entry["provenance"]
        crd = source / prov["source"]
        assert crd.is_file(), f"{path.name}: {crd} is gone"
        assert hashlib.sha256(crd.read_bytes()).hexdigest() == prov["sha256"], path.name
        origin = table[prov["source"].split("/", 1)[0]]
        assert (prov["project"], prov["version"]) == (origin.project, origin.version)
        assert prov["upstreamPath"] == f"{origin.upstream_dir}/{crd.name}"
        doc = next(
            d
            for d in yaml.load_all(crd.read_text(), Loader=_LOADER)
            if d and d["spec"]["names"]["kind"] == entry["kind"]
        )
        served = [v["name"] for v in doc["spec"]["versions"] if v["served"]]
        assert [v["name"] for v in entry["versions"]] == served, path.name
        seen += 1
    assert seen == len(schemas.read_kinds(DATA_DIR / schemas.KINDS_FILE))
    assert table["provider-upjet-aws"].project == "crossplane-contrib/provider-upjet-aws"


# --- the bundle validates as the upstream CRDs do ---------------------------------------------


@functools.cache
def _validators() -> tuple[Validator, Validator]:
    return Validator(SchemaBundle()), Validator(CrdStore(shared_crds()))


def _issues(validator: Validator, bodies: list[tuple[str, Body]]) -> list[str]:
    return [str(i) for src, body in bodies for i in validator.validate_body(body, src)]


def _documents() -> list[tuple[str, Body]]:
    """Every document checked in under examples/ (observed fixtures included) and gitops/."""
    out = [(d.source, d.body) for d in read_path(str(EXAMPLES))]
    not_objects = {"values.yaml", "health_test.yaml", "validate-claims.yaml"}
    for path in sorted(GITOPS.rglob("*.yaml")):
        if path.name not in not_objects and "backstage" not in path.parts:
            out += [(d.source, d.body) for d in read_path(str(path))]
    return out


def test_examples_and_what_they_render_validate_the_same_with_the_bundle() -> None:
    bundled, upstream = _validators()
    bodies = _documents() + list(rendered_bodies())
    assert len(bodies) > 800
    assert _issues(bundled, bodies) == _issues(upstream, bodies)


def _broken(body: Body) -> Iterator[tuple[str, Body]]:
    """Variants each validator must refuse the same way: an unknown field, a wrong type, a
    required parameter gone (upjet's CEL rules), a nested manifest's unknown field."""
    spec = body.get("spec")
    if not isinstance(spec, dict):
        return
    b = copy.deepcopy(body)
    b["spec"]["plinthUnknown"] = True
    yield "unknown field", b
    fp = spec.get("forProvider")
    if isinstance(fp, dict):
        for key, value in fp.items():
            if isinstance(value, str):
                b = copy.deepcopy(body)
                b["spec"]["forProvider"][key] = {"not": "a string"}
                yield f"wrong type of forProvider.{key}", b
                break
        for key in fp:
            b = copy.deepcopy(body)
            del b["spec"]["forProvider"][key]
            yield f"forProvider.{key} gone", b
        if isinstance(fp.get("manifest"), dict):
            b = copy.deepcopy(body)
            b["spec"]["forProvider"]["manifest"]["spec"] = {"plinthUnknown": 1}
            yield "manifest spec replaced", b
    if body.get("kind") == "Object" and isinstance(spec.get("readiness"), dict):
        b = copy.deepcopy(body)
        b["spec"]["readiness"]["policy"] = "Sometimes"
        yield "enum", b


def test_broken_resources_fail_the_same_with_the_bundle() -> None:
    bundled, upstream = _validators()
    one_per_kind: dict[tuple[str, ...], tuple[str, Body]] = {}
    for source, body in rendered_bodies():
        manifest = (body.get("spec", {}).get("forProvider") or {}).get("manifest") or {}
        kind = (
            body["apiVersion"],
            body["kind"],
            str(manifest.get("apiVersion")),
            str(manifest.get("kind")),
        )
        one_per_kind.setdefault(kind, (source, body))
    cases = [
        (f"{source} ({what})", broken)
        for source, body in one_per_kind.values()
        for what, broken in _broken(body)
    ]
    mine, theirs = _issues(bundled, cases), _issues(upstream, cases)
    assert mine == theirs
    assert len(mine) > len(one_per_kind), "the broken variants must be refused"
    assert any("self." in m or "is a required parameter" in m for m in mine), (
        "some refusals must come from CEL rules"
    )


# --- update merges ---------------------------------------------------------------------------


def _copy_bundle(to: Path) -> Path:
    shutil.copytree(DATA_DIR, to)
    return to


def test_update_refreshes_one_project_and_keeps_the_others(tmp_path: Path) -> None:
    source = shared_crds()
    bundle = _copy_bundle(tmp_path / "bundle")
    provider = tmp_path / "package" / "crds"  # a provider's package/crds: no README table
    provider.mkdir(parents=True)
    for f in (source / "karpenter").glob("*.yaml"):
        shutil.copy(f, provider / f.name)
    before = {p.name: p.read_bytes() for p in bundle.iterdir()}

    with pytest.raises(SchemaError, match="--project and --version"):
        schemas.update(provider, bundle)
    report = schemas.update(
        provider, bundle, project="aws/karpenter-provider-aws", version="v1.99.0"
    )
    assert sorted(report.written) == [
        ("karpenter.k8s.aws", "EC2NodeClass"),
        ("karpenter.sh", "NodePool"),
    ]
    assert len(report.kept) == len(before) - 3  # all but the two and kinds.txt
    assert not report.missing
    assert not report.removed
    after = {p.name: p.read_bytes() for p in bundle.iterdir()}
    changed = sorted(n for n in after if after[n] != before[n])
    assert changed == ["karpenter.k8s.aws_EC2NodeClass.json.gz", "karpenter.sh_NodePool.json.gz"]
    prov = SchemaBundle(bundle).entry("karpenter.sh", "NodePool")["provenance"]  # type: ignore[index]
    assert prov["project"] == "aws/karpenter-provider-aws"
    assert prov["version"] == "v1.99.0"
    assert prov["source"] == "karpenter.sh_nodepools.yaml"
    assert "upstreamPath" not in prov

    # Again: nothing to do. Then a kind leaves the selection and its file goes.
    again = schemas.update(
        provider, bundle, project="aws/karpenter-provider-aws", version="v1.99.0"
    )
    assert not again.changed
    assert len(again.unchanged) == 2
    kinds = bundle / "kinds.txt"
    kinds.write_text(kinds.read_text().replace("karpenter.k8s.aws/EC2NodeClass\n", ""))
    gone = schemas.update(provider, bundle, project="aws/karpenter-provider-aws", version="v1.99.0")
    assert gone.removed == ["karpenter.k8s.aws_EC2NodeClass.json.gz"]
    assert not (bundle / "karpenter.k8s.aws_EC2NodeClass.json.gz").exists()


def test_update_reads_what_crossplane_xpkg_extract_writes(tmp_path: Path) -> None:
    """`crossplane xpkg extract` writes one gzipped YAML stream: the package's meta, its CRDs."""
    source = shared_crds()
    extracted = tmp_path / "extracted"
    extracted.mkdir()
    meta = "apiVersion: meta.pkg.crossplane.io/v1\nkind: Provider\nmetadata:\n  name: p\n"
    crds = [
        (source / "kyverno" / f).read_text()
        for f in ("kyverno.io_policies.yaml", "kyverno.io_clusterpolicies.yaml")
    ]
    (extracted / "out.gz").write_bytes(gzip.compress("---\n".join([meta, *crds]).encode()))
    (extracted / "package.xpkg.gz").write_bytes(b"\x1f\x8bnot gzip at all")  # not ours: skipped
    (extracted / "crossplane.yaml").write_text(meta)
    bundle = _copy_bundle(tmp_path / "bundle")
    report = schemas.update(extracted, bundle, project="kyverno/kyverno", version="v1.19.0")
    assert sorted(report.written) == [("kyverno.io", "ClusterPolicy"), ("kyverno.io", "Policy")]
    entry = SchemaBundle(bundle).entry("kyverno.io", "Policy")
    assert entry is not None
    assert entry["provenance"]["source"] == "out.gz"
    assert entry["versions"] == SchemaBundle().entry("kyverno.io", "Policy")["versions"]  # type: ignore[index]


def test_update_refuses_a_kind_defined_twice(tmp_path: Path) -> None:
    source = shared_crds()
    twice = tmp_path / "crds"
    for folder in ("a", "b"):
        (twice / folder).mkdir(parents=True)
        shutil.copy(source / "karpenter" / "karpenter.sh_nodepools.yaml", twice / folder)
    with pytest.raises(SchemaError, match=r"defined in a/karpenter\.sh_nodepools\.yaml and b/"):
        schemas.update(twice, _copy_bundle(tmp_path / "bundle"), project="p", version="v1")


def test_schemas_cli_update_check_and_list(tmp_path: Path) -> None:
    source = shared_crds()
    bundle = _copy_bundle(tmp_path / "bundle")
    provider = tmp_path / "crds"
    provider.mkdir()
    shutil.copy(source / "karpenter" / "karpenter.sh_nodepools.yaml", provider)
    runner = CliRunner()
    args = ["schemas", "update", "--from", str(provider), "--bundle", str(bundle)]
    assert runner.invoke(main, args).exit_code == 2  # no provenance
    args += ["--project", "aws/karpenter-provider-aws", "--version", "v1.99.0"]
    check = runner.invoke(main, [*args, "--check"])
    assert check.exit_code == 1, check.output
    assert "would write karpenter.sh/NodePool" in check.output
    assert (bundle / "karpenter.sh_NodePool.json.gz").read_bytes() == (
        DATA_DIR / "karpenter.sh_NodePool.json.gz"
    ).read_bytes()
    done = runner.invoke(main, args)
    assert done.exit_code == 0, done.output
    assert runner.invoke(main, [*args, "--check"]).exit_code == 0

    listed = runner.invoke(main, ["schemas", "list", "--bundle", str(bundle), "-o", "json"])
    assert listed.exit_code == 0, listed.output
    report = json.loads(listed.stdout)
    rows = {r["kind"]: r for r in report["kinds"]}
    assert rows["karpenter.sh/NodePool"]["version"] == "v1.99.0"
    assert rows["argoproj.io/Application"]["project"] == "argoproj/argo-cd"
    assert report["files"] == len(rows)
    assert report["bytes"] < report["uncompressedBytes"]
    text = runner.invoke(main, ["schemas", "list"])
    assert "ec2.aws.m.upbound.io/VPC" in text.stdout
    assert "crossplane-contrib/provider-upjet-aws@v2.6.0" in text.stdout


def test_validate_accepts_a_bundle_directory_as_crds(tmp_path: Path) -> None:
    bundle = _copy_bundle(tmp_path / "bundle")
    runner = CliRunner()
    platform = str(EXAMPLES / "platform.yaml")
    assert runner.invoke(main, ["validate", "--crds", str(bundle), platform]).exit_code == 0
    (bundle / "apiextensions.crossplane.io_EnvironmentConfig.json.gz").unlink()
    gone = runner.invoke(main, ["validate", "--crds", str(bundle), platform])
    assert gone.exit_code == 1
    assert "no schema for apiextensions.crossplane.io/v1beta1 EnvironmentConfig" in gone.output


# --- installed, far from ../shared -----------------------------------------------------------

# Runs the installed `plinth` script with an audit hook that reports any file operation on a
# path under the workshop's shared directory: nothing there may be read.
_AUDITED = """
import os, runpy, sys
shared, script = sys.argv[1], sys.argv[2]
sys.argv = [script, *sys.argv[3:]]
def hook(event, args):
    for a in args:
        if isinstance(a, (str, bytes, os.PathLike)) and shared in os.fsdecode(a):
            os.write(2, f"TOUCHED {event} {os.fsdecode(a)}\\n".encode())
sys.addaudithook(hook)
runpy.run_path(script, run_name="__main__")
"""


def _isolated_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLINTH_", "PYTHON"))}
    env["HOME"] = str(home)
    # No network: every proxy is a closed port, and nothing here should try one.
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        env[var] = "http://127.0.0.1:9"
    return env


def test_validate_render_examples_needs_neither_shared_nor_the_network(tmp_path: Path) -> None:
    work = tmp_path / "claims"
    shutil.copytree(EXAMPLES, work / "examples")
    home = tmp_path / "home"
    home.mkdir()
    assert not (work.parent / "shared").exists()
    script = Path(sys.executable).parent / "plinth"
    assert script.is_file(), "plinth must be installed in the test environment"
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            _AUDITED,
            str(REPO.parent / "shared"),
            str(script),
            "validate",
            "--render",
            "examples/",
        ],
        cwd=work,
        env=_isolated_env(home),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert "TOUCHED" not in r.stderr, [x for x in r.stderr.splitlines() if "TOUCHED" in x][:5]
    assert r.returncode == 0, r.stderr[-3000:]
    assert " 0 issue(s)" in r.stderr
    documents, rendered = re.findall(r"(\d+) document\(s\), (\d+) rendered", r.stderr)[0]
    assert int(documents) > 100
    assert int(rendered) > 100
    assert not any(home.iterdir()), "nothing may be cached in HOME"


def test_package_data_covers_the_bundle() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["plinth.tools"]
    files = [p.relative_to(DATA_DIR.parent).as_posix() for p in DATA_DIR.iterdir()]
    assert all(any(fnmatch.fnmatch(f, g) for g in globs) for f in files), files


def test_a_built_package_carries_the_bundle_and_validates_with_it(tmp_path: Path) -> None:
    """What `pip install .` puts in site-packages (setuptools' build_py, which the wheel is
    made from), used from a directory with no ../shared: the bundle is there, validation works."""
    pytest.importorskip("setuptools")
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(
        REPO / "functions",
        src / "functions",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    site = tmp_path / "site"
    build = subprocess.run(
        [
            sys.executable,
            "-c",
            "import setuptools; setuptools.setup()",
            "-q",
            "build_py",
            "-d",
            str(site),
        ],
        cwd=src,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert build.returncode == 0, build.stderr
    shipped = sorted(p.name for p in (site / "plinth" / "tools" / "schema_data").iterdir())
    assert shipped == sorted(p.name for p in DATA_DIR.iterdir())
    work = tmp_path / "claims"
    shutil.copytree(EXAMPLES, work / "examples")
    env = {**_isolated_env(tmp_path), "PYTHONPATH": str(site)}
    where = subprocess.run(
        [sys.executable, "-c", "import plinth.tools.schemas as s; print(s.DATA_DIR)"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(site)
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "plinth.cli",
            "validate",
            "examples/platform.yaml",
            "examples/functions.yaml",
            "examples/account-prod/",
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert " 0 issue(s)" in r.stderr
