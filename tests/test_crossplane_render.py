"""Real Crossplane renders what Plinth renders.

Every example claim, in both flavors, is rendered phase by phase twice: by `plinth render`'s
in-process path and by the pinned `crossplane composition render` (Crossplane's own reconciler,
run by its core binary) calling a `plinth serve --insecure` process, with the checked-in
Composition, XRD and examples/functions.yaml. The composed resources must be equal, names,
metadata and specs, and so must the composite's status. Everything the real engine renders
is then checked by `crossplane resource validate` against the upstream CRDs and our XRDs.

Phases: the account examples have checked-in observed fixtures, one directory per phase;
every other example goes through its life by handing each phase's resources back as observed,
all Ready. A claim that requires other claims (a tenant its account, an app its tenant) is
rendered twice: with them as checked in (not yet reporting anything), and with each reporting
the status it reaches at the end of its own life.
"""

from __future__ import annotations

import copy
import difflib
import functools
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

import account_fixtures as fx
from conftest import EXAMPLES, REPO, crds_dir
from plinth.api.catalog import find_claim_api
from plinth.cli.claims import default_required as _default_required
from plinth.runtime.function import FunctionRunner
from plinth.tools.engine import Tools, crossplane_render
from plinth.tools.render import (
    CRN_ANNOTATION,
    Rendered,
    _matches,
    build_request,
    render,
    to_composite,
)
from plinth.tools.yamlio import Document, read_path

pytestmark = pytest.mark.crossplane

Body = dict[str, Any]
FLAVOR_DIRS = {"v2": EXAMPLES, "legacy": EXAMPLES / "legacy"}
MAX_PHASES = 8
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _is_claim(doc: Document) -> bool:
    return find_claim_api(doc.api_version, doc.kind) is not None


def example_claims() -> Iterator[tuple[str, Document]]:
    """Whatever claims the example directories hold, so new examples are covered unasked."""
    for flavor, directory in FLAVOR_DIRS.items():
        for path in sorted(directory.glob("*.yaml")):
            for doc in read_path(str(path)):
                if _is_claim(doc):
                    yield flavor, doc


# --- lifecycles ------------------------------------------------------------------------------


def _key(body: Body) -> tuple[str, str, str, str]:
    meta = body.get("metadata") or {}
    return (body["apiVersion"], body["kind"], meta.get("namespace", ""), meta["name"])


def _doc(source: str) -> Document:
    path, _, index = source.partition("#")
    docs = read_path(path)
    return docs[int(index) - 1] if index else docs[0]


def _required(doc: Document) -> list[Document]:
    """What `plinth render CLAIM` hands over by default: the claim's directory and platform."""
    return _default_required_of(doc.source)


@functools.cache
def _default_required_of(source: str) -> list[Document]:
    # Cached: it parses every YAML file under the claim's directory (fixtures included).
    return _default_required(source)


@functools.cache
def _dependencies(source: str) -> list[Document]:
    """The claims beside `doc` that its composition asks for (a tenant's account, an app's
    tenant), found by running the function's requirement loop as `render` does."""
    doc = _doc(source)
    candidates = [d for d in _required(doc) if _is_claim(d) and _key(d.body) != _key(doc.body)]
    others = [d.body for d in _required(doc) if not _is_claim(d)]
    runner = FunctionRunner(cache_size=0)
    xr = to_composite(doc.body)
    asked: list[Any] = []
    required: dict[str, list[Body]] = {}
    for _ in range(5):
        rsp = runner.run(build_request(xr, required=required))
        asked += rsp.requirements.resources.values()
        offered = [d.body for d in candidates] + others
        nxt = {
            n: [b for b in offered if _matches(s, b)] for n, s in rsp.requirements.resources.items()
        }
        if nxt == required:
            break
        required = nxt
    return [d for d in candidates if any(_matches(s, d.body) for s in asked)]


CASES = [
    pytest.param(flavor, doc.source, id=doc.source.split("examples/")[-1])
    for flavor, doc in example_claims()
]


def _fixture_dirs(doc: Document) -> list[Path] | None:
    path = Path(doc.source.partition("#")[0])
    if path.name not in fx.EXAMPLE_DIRS:
        return None
    return [fx.fixture_path(path.parent, path.name, phase).parent for phase in fx.PHASES]


def _ready(resources: list[Body]) -> list[Body]:
    """Each resource as Crossplane observes it once its provider reports it Ready."""
    return [
        {**r, "status": {"conditions": [{"type": "Ready", "status": "True"}]}} for r in resources
    ]


@dataclass
class Phase:
    label: str
    observed: list[Body] | Path  # a Path is a fixture directory, handed to both renderers
    plinth: Rendered
    real: list[Body] | None = None


def _phases(doc: Document, required: list[Body]) -> list[Phase]:
    """The claim's life, rendered in-process: fixtures when checked in, else ready-loop."""
    xr = to_composite(doc.body)
    fixtures = _fixture_dirs(doc)
    if fixtures is not None:
        out = [Phase("new", [], render(xr, extra_resources=required))]
        for directory in fixtures:
            observed = [d.body for d in read_path(str(directory))]
            out.append(
                Phase(
                    directory.name,
                    directory,
                    render(xr, observed=observed, extra_resources=required),
                )
            )
        return out
    out = []
    observed: list[Body] = []
    for i in range(MAX_PHASES):
        rendered = render(xr, observed=observed, extra_resources=required)
        out.append(Phase("new" if i == 0 else f"ready-{i}", observed, rendered))
        done = rendered.composite["status"].get("phase") == "Ready"
        stalled = i > 0 and len(rendered.resources) == len(out[-2].plinth.resources)
        if done or stalled or rendered.fatal:
            break
        observed = _ready(rendered.resources)
    return out


@functools.cache
def _settled_status(source: str) -> str:
    """The status a required claim reports at the end of its own life (as YAML, hashable)."""
    doc = _doc(source)
    return yaml.safe_dump(_phases(doc, _settled_required(doc))[-1].plinth.composite["status"])


def _settled_required(doc: Document) -> list[Body]:
    deps = {_key(d.body) for d in _dependencies(doc.source)}
    out = []
    for d in _required(doc):
        if _key(d.body) in deps:
            out.append({**d.body, "status": yaml.safe_load(_settled_status(d.source))})
        else:
            out.append(d.body)
    return out


_LIFECYCLES: dict[tuple[str, str], tuple[list[Body], list[Phase]]] = {}


def lifecycle(
    tools: Tools, target: str, flavor: str, source: str, variant: str
) -> tuple[list[Body], list[Phase]]:
    """Every phase rendered by both engines (cached: the validate test reuses it)."""
    key = (source, variant)
    if key in _LIFECYCLES:
        return _LIFECYCLES[key]
    doc = _doc(source)
    found = find_claim_api(doc.api_version, doc.kind)
    assert found is not None
    api = found[0]
    required = [d.body for d in _required(doc)] if variant == "as-given" else _settled_required(doc)
    phases = _phases(doc, required)
    for phase in phases:
        out = crossplane_render(
            tools,
            to_composite(doc.body),
            composition=REPO / "compositions" / flavor / f"{api.noun}.yaml",
            xrd=REPO / "xrds" / flavor / f"{api.noun}.yaml",
            functions=EXAMPLES / "functions.yaml",
            target=target,
            required=required,
            observed=phase.observed,
            include_full_xr=True,
        )
        phase.real = [d for d in yaml.safe_load_all(out) if d]
    _LIFECYCLES[key] = (required, phases)
    return _LIFECYCLES[key]


# --- comparison --------------------------------------------------------------------------------

# Conditions only Crossplane's reconciler sets, about itself rather than about the composition:
# Responsive (its watch circuit breaker) and Synced (the reconcile succeeded). `plinth render`
# does not emulate them; they are checked for success here, then left out of the comparison.
ENGINE_CONDITIONS = {
    "Responsive": ("True", "WatchCircuitClosed"),
    "Synced": ("True", "ReconcileSuccess"),
}


def _changed(given: Any, defaulted: Any, path: str = "spec") -> list[str]:
    """Fields of `given` that `defaulted` (the same object after defaulting) lost or changed."""
    if isinstance(given, dict) and isinstance(defaulted, dict):
        return [
            p
            for k, v in given.items()
            for p in (
                _changed(v, defaulted[k], f"{path}.{k}") if k in defaulted else [f"{path}.{k}"]
            )
        ]
    if isinstance(given, list) and isinstance(defaulted, list) and len(given) == len(defaulted):
        return [
            p
            for i, (a, b) in enumerate(zip(given, defaulted, strict=True))
            for p in _changed(a, b, f"{path}[{i}]")
        ]
    return [] if given == defaulted else [path]


def _composite_as_plinth_prints_it(
    real: Body, given: Body, composed: list[Body], problems: list[str]
) -> Body:
    """The real composite reduced to what `plinth render` prints, checking what is dropped."""
    real = copy.deepcopy(real)
    meta = real.get("metadata") or {}
    if meta != given.get("metadata"):
        problems.append(f"composite metadata: real {meta} != given {given.get('metadata')}")
    spec = real.get("spec") or {}
    # The engine records what it composed in the composite's resource references (v2 under
    # spec.crossplane); they must name exactly the composed resources.
    holder = spec.get("crossplane", spec)
    refs = holder.pop("resourceRefs", [])
    if spec.get("crossplane") == {}:
        del spec["crossplane"]
    want = sorted((r["apiVersion"], r["kind"], r["metadata"]["name"]) for r in composed)
    got = sorted((r["apiVersion"], r["kind"], r["name"]) for r in refs)
    if got != want:
        problems.append(f"resourceRefs {got} != composed {want}")
    # With --xrd the engine applies the XRD's defaults, as the API server would; everything the
    # claim says must still be there unchanged.
    changed = _changed(given.get("spec") or {}, spec)
    if changed:
        problems.append(f"the composite lost or changed the claim's {', '.join(changed)}")
    status = real.get("status") or {}
    conditions = {}
    for c in status.pop("conditions", []):
        c.pop("lastTransitionTime", None)  # the engine's fixed fake clock
        expected = ENGINE_CONDITIONS.get(c["type"])
        if expected is None:
            conditions[c["type"]] = c
        elif (c["status"], c["reason"]) != expected:
            problems.append(f"engine condition {c}")
    # Legacy only: the condition types the claim copies from its composite: the function's.
    types = status.pop("claimConditionTypes", None)
    if types is not None and set(types) != set(conditions) - {"Ready"}:
        problems.append(f"claimConditionTypes {types} != function conditions {set(conditions)}")
    status["conditions"] = conditions  # keyed by type, as _plinth_composite
    return {
        "apiVersion": real["apiVersion"],
        "kind": real["kind"],
        "metadata": {k: meta[k] for k in ("name", "namespace") if k in meta},
        "status": status,
    }


def _plinth_composite(composite: Body) -> Body:
    # Conditions compare by type: the API treats them as a map keyed by type, and the
    # reconciler orders its own around the function's.
    out = copy.deepcopy(composite)
    out["status"]["conditions"] = {c["type"]: c for c in out["status"].get("conditions", [])}
    return out


def _diff(a: Any, b: Any) -> str:
    return "".join(
        difflib.unified_diff(
            yaml.safe_dump(a, sort_keys=True).splitlines(keepends=True),
            yaml.safe_dump(b, sort_keys=True).splitlines(keepends=True),
            "plinth",
            "crossplane",
            n=2,
        )
    )


def differences(phase: Phase, given: Body) -> list[str]:
    assert phase.real is not None
    problems: list[str] = []
    xr_key = (given["apiVersion"], given["kind"])
    composites = [d for d in phase.real if (d["apiVersion"], d["kind"]) == xr_key]
    composed = [
        d
        for d in phase.real
        if CRN_ANNOTATION in ((d.get("metadata") or {}).get("annotations") or {})
    ]
    others = [d for d in phase.real if d not in composites and d not in composed]
    if len(composites) != 1 or others:
        return [f"expected one composite and composed resources, got {len(phase.real)} documents"]
    real_xr = _composite_as_plinth_prints_it(composites[0], given, composed, problems)
    plinth_xr = _plinth_composite(phase.plinth.composite)
    if real_xr != plinth_xr:
        problems.append("composite:\n" + _diff(plinth_xr, real_xr))
    mine = {r["metadata"]["annotations"][CRN_ANNOTATION]: r for r in phase.plinth.resources}
    theirs = {r["metadata"]["annotations"][CRN_ANNOTATION]: r for r in composed}
    if set(mine) != set(theirs):
        problems.append(
            f"only plinth: {sorted(set(mine) - set(theirs))}; "
            f"only crossplane: {sorted(set(theirs) - set(mine))}"
        )
    for crn in sorted(set(mine) & set(theirs)):
        if mine[crn] != theirs[crn]:
            problems.append(f"{crn}:\n" + _diff(mine[crn], theirs[crn]))
    return problems


def _variants(source: str) -> list[str]:
    """as-given always; dependencies-ready when the claim asks for other claims."""
    return ["as-given"] + (["dependencies-ready"] if _dependencies(source) else [])


@pytest.mark.parametrize(("flavor", "source"), CASES)
def test_crossplane_renders_what_plinth_renders(
    crossplane_tools: Tools, function_target: str, flavor: str, source: str
) -> None:
    given = to_composite(_doc(source).body)
    problems = []
    for variant in _variants(source):
        _, phases = lifecycle(crossplane_tools, function_target, flavor, source, variant)
        problems += [
            f"[{variant} {phase.label}] {p}" for phase in phases for p in differences(phase, given)
        ]
    assert not problems, "\n".join(problems[:10])


def test_every_example_is_covered() -> None:
    covered = {(flavor, Path(source).name) for flavor, source in (c.values for c in CASES)}
    for flavor in FLAVOR_DIRS:
        for name in ("account.yaml", "tenant.yaml", "app.yaml"):
            assert (flavor, name) in covered, f"{flavor}/{name} is not rendered by real Crossplane"
    # Tenants and apps are also rendered with the claims they require settled.
    for flavor, directory in FLAVOR_DIRS.items():
        for name in ("tenant.yaml", "app.yaml"):
            source = str(directory / name)
            assert "dependencies-ready" in _variants(source), f"{flavor}/{name}"


# --- crossplane resource validate --------------------------------------------------------------

# No upstream CRD is excluded: test_every_upstream_crd_loads probes every served version of
# every CRD under ../shared/crds and each one loads and evaluates (schema and CEL). The one
# known to be unsuitable elsewhere, provider-kubernetes' cluster-scoped Object CRD (its
# conversion webhook names no service namespace, so an API server refuses it as is), is fine
# for `resource validate`, which never calls the webhook. Only the CRD files of the groups
# being validated are passed: loading all 722 CRDs costs seconds per call, and a group
# without a CRD still shows up as a missing schema.


@functools.cache
def _crd_files_by_group() -> dict[str, list[Path]]:
    by_group: dict[str, list[Path]] = {}
    for path in sorted(crds_dir().rglob("*.yaml")):
        # A CRD's name is <plural>.<group>; reading the text is 100x faster than parsing it.
        m = re.search(
            r"^kind: CustomResourceDefinition$.*?^  name: [^.\s]+\.(\S+)$",
            path.read_text(),
            re.M | re.S,
        )
        by_group.setdefault(m.group(1) if m else "", []).append(path)
    return by_group


def resource_validate(tools: Tools, docs: list[Body], extensions: list[Path], tmp: Path) -> Body:
    """`crossplane resource validate` offline: no Crossplane image, a cache dir under `tmp`."""
    resources = tmp / "resources.yaml"
    resources.write_text(yaml.safe_dump_all(docs))
    done = subprocess.run(
        [
            str(tools.cli),
            "resource",
            "validate",
            ",".join(str(p) for p in extensions),
            str(resources),
            # Empty: do not pull the Crossplane image for its built-in schemas (offline); its
            # CRDs are among ../shared/crds.
            "--crossplane-image=",
            f"--cache-dir={tmp / 'cache'}",
            "--error-on-missing-schemas",
            "--output=json",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    try:
        report: Body = yaml.safe_load(done.stdout)
    except yaml.YAMLError:
        report = {}
    if not isinstance(report, dict) or "summary" not in report:
        pytest.fail(f"crossplane resource validate failed ({done.returncode}): {done.stderr}")
    report["returncode"] = done.returncode
    return report


def _invalid(report: Body) -> list[str]:
    return [
        f"{r['apiVersion']} {r['kind']} {r.get('namespace', '')}/{r['name']}: "
        + "; ".join(e["message"] for e in r.get("errors", []))
        + f" ({r['status']})"
        for r in report.get("resources", [])
        if r["status"] != "valid"
    ]


@pytest.mark.parametrize(("flavor", "source"), CASES)
def test_everything_rendered_is_valid(
    crossplane_tools: Tools, function_target: str, flavor: str, source: str, tmp_path: Path
) -> None:
    docs = [
        doc
        for variant in _variants(source)
        for phase in lifecycle(crossplane_tools, function_target, flavor, source, variant)[1]
        for doc in phase.real or []
    ]
    groups = {d["apiVersion"].rpartition("/")[0] for d in docs}
    crds = _crd_files_by_group()
    extensions = [REPO / "xrds" / flavor, *(f for g in sorted(groups) for f in crds.get(g, []))]
    report = resource_validate(crossplane_tools, docs, extensions, tmp_path)
    summary = report["summary"]
    assert summary["total"] == len(docs)
    assert summary["missingSchemas"] == 0, _invalid(report)
    assert summary["valid"] == len(docs), "\n".join(_invalid(report)[:20])
    assert report["returncode"] == 0


def test_every_upstream_crd_loads(crossplane_tools: Tools, tmp_path: Path) -> None:
    """A probe per served version of every upstream CRD: each must have a usable schema, so
    none needs excluding. A probe has no spec, so most are invalid; what must not
    happen is a missing schema or an error other than a schema or CEL verdict."""
    probes = []
    for path in sorted(crds_dir().rglob("*.yaml")):
        for crd in yaml.load_all(path.read_text(), Loader=_LOADER):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            spec = crd["spec"]
            meta = {"name": "probe"}
            if spec["scope"] == "Namespaced":
                meta["namespace"] = "default"
            probes += [
                {
                    "apiVersion": f"{spec['group']}/{v['name']}",
                    "kind": spec["names"]["kind"],
                    "metadata": meta,
                }
                for v in spec["versions"]
                if v.get("served", True)
            ]
    report = resource_validate(crossplane_tools, probes, [crds_dir()], tmp_path)
    assert report["summary"]["total"] == len(probes)
    assert report["summary"]["missingSchemas"] == 0
    verdicts = {e["type"] for r in report["resources"] for e in r.get("errors", [])}
    assert verdicts <= {"schema", "cel"}, verdicts
