"""Plinth's packages: what the Configurations activate and depend on is exactly what the
compositions create, the metadata Crossplane reads, one version, the mirror and its
ImageConfigs. The real `crossplane xpkg build` runs in the `crossplane` tests at the end."""

from __future__ import annotations

import functools
import gzip
import io
import json
import re
import tarfile
import tomllib
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import REPO, crds_dir
from plinth import __version__
from plinth.api.flavor import Flavor
from plinth.generators import packages as catalog
from plinth.generators.crossplane import (
    CONFIGURATION_PACKAGE,
    FUNCTION_NAME,
    FUNCTION_PACKAGE,
    composition,
    configuration_meta,
    function_meta,
)
from plinth.tools import mirror, packages
from plinth.tools.validate import Validator

Body = dict[str, Any]
PROVIDER_FOLDERS = ("provider-upjet-aws", "provider-kubernetes", "provider-upjet-github")


@functools.cache
def upstream_crds() -> dict[tuple[str, str], Body]:
    """(group, kind) -> CRD of every provider folder in ../shared/crds."""
    out = {}
    for folder in PROVIDER_FOLDERS:
        for f in sorted((crds_dir() / folder).glob("*.yaml")):
            crd = yaml.load(f.read_text(), Loader=yaml.CSafeLoader)
            out[(crd["spec"]["group"], crd["spec"]["names"]["kind"])] = crd
    return out


@functools.cache
def composed_kinds() -> dict[Flavor, frozenset[tuple[str, str]]]:
    """(group, kind) of everything any example claim composes in any phase, by flavor."""
    from claim_fixtures import with_status
    from lifecycles import claim_files, is_claim, phases
    from plinth.api.flavor import GROUP_TO_FLAVOR
    from plinth.cli.claims import default_required as _default_required
    from plinth.cli.claims import placed as _placed
    from plinth.tools.yamlio import read_path

    out: dict[Flavor, set[tuple[str, str]]] = defaultdict(set)
    for path in claim_files():
        for doc in read_path(str(path)):
            if not is_claim(doc.body):
                continue
            claim = _placed(doc).body
            flavor = GROUP_TO_FLAVOR[claim["apiVersion"].split("/")[0]].flavor
            required = [d.body for d in _default_required(doc.source)]
            for given in (required, with_status(required)):
                for resources in phases(claim, given):
                    for body in resources:
                        out[flavor].add((body["apiVersion"].split("/")[0], body["kind"]))
    return {f: frozenset(s) for f, s in out.items()}


def managed(kinds: frozenset[tuple[str, str]]) -> set[str]:
    """The MRD names among composed kinds: provider CRDs other than provider config kinds
    (which Crossplane installs as plain CRDs, never as MRDs)."""
    out = set()
    for key in kinds:
        crd = upstream_crds().get(key)
        if crd is not None and key[1] not in mirror.PROVIDER_CONFIG_KINDS:
            out.add(crd["metadata"]["name"])
    return out


@pytest.mark.parametrize("flavor", list(Flavor))
def test_the_activation_policy_is_exactly_what_every_phase_of_every_example_composes(
    flavor: Flavor,
) -> None:
    derived = managed(composed_kinds()[flavor])
    assert derived, "no managed resource composed at all: the derivation is broken"
    assert set(catalog.activations(flavor)) == derived
    policy = catalog.activation_policy(flavor)
    assert policy["apiVersion"] == "apiextensions.crossplane.io/v1alpha1"
    assert policy["kind"] == "ManagedResourceActivationPolicy"
    assert policy["spec"]["activate"] == sorted(derived)
    # No wildcard: a pattern would activate more than the compositions use.
    assert not any(set(a) & set("*?[") for a in policy["spec"]["activate"])


@pytest.mark.parametrize("flavor", list(Flavor))
def test_every_activation_names_an_upstream_crd_of_the_flavor_s_scope(flavor: Flavor) -> None:
    by_name = {crd["metadata"]["name"]: crd for crd in upstream_crds().values()}
    scope = "Namespaced" if flavor is Flavor.V2 else "Cluster"
    for name in catalog.activations(flavor):
        assert name in by_name, name
        assert by_name[name]["spec"]["scope"] == scope, name


def test_both_flavors_compose_the_same_kinds_and_use_the_same_providers() -> None:
    def kinds(flavor: Flavor) -> set[str]:
        return {n.split(".", 1)[0] for n in catalog.activations(flavor)}

    assert kinds(Flavor.V2) == kinds(Flavor.LEGACY)
    assert (
        configuration_meta(Flavor.V2)["spec"]["dependsOn"]
        == configuration_meta(Flavor.LEGACY)["spec"]["dependsOn"]
    )


@pytest.mark.parametrize("flavor", list(Flavor))
def test_the_configuration_depends_on_the_packages_serving_what_it_composes(
    flavor: Flavor,
) -> None:
    deps = configuration_meta(flavor)["spec"]["dependsOn"]
    providers = {d["provider"] for d in deps if "provider" in d}
    # The packages serving the composed groups: AWS per service, one for GitHub, one for
    # Kubernetes; nothing else.
    wanted = set()
    for group, _ in composed_kinds()[flavor]:
        if ".aws." in group:
            wanted.add(f"{catalog.PROVIDER_REGISTRY}/provider-aws-{group.split('.')[0]}")
        elif ".github." in group:
            wanted.add(f"{catalog.PROVIDER_REGISTRY}/provider-upjet-github")
        elif group.startswith("kubernetes."):
            wanted.add(f"{catalog.PROVIDER_REGISTRY}/provider-kubernetes")
    assert providers == wanted
    (function,) = [d for d in deps if "function" in d]
    assert function == {"function": FUNCTION_PACKAGE, "version": ">=v0.1.0"}
    for d in deps:
        assert re.fullmatch(r">=v\d+\.\d+\.\d+", d["version"]), d


def test_the_checked_in_package_metadata_is_what_the_packages_carry() -> None:
    for rel, meta in (
        ("packages/configuration/crossplane.yaml", configuration_meta(Flavor.V2)),
        ("packages/configuration-legacy/crossplane.yaml", configuration_meta(Flavor.LEGACY)),
        ("packages/function/crossplane.yaml", function_meta()),
    ):
        assert yaml.safe_load((REPO / rel).read_text()) == meta, rel


def test_the_function_declares_that_it_composes() -> None:
    meta = function_meta()
    assert meta["apiVersion"] == "meta.pkg.crossplane.io/v1beta1"
    # Crossplane checks a Composition's functions for the `composition` capability; Plinth
    # serves no Operations.
    assert meta["spec"]["capabilities"] == ["composition"]
    assert meta["metadata"]["name"] == "function-plinth"


@pytest.mark.parametrize(
    ("source", "name"),
    [
        ("ghcr.io/plinth-dev/function-plinth", "plinth-dev-function-plinth"),
        (
            "xpkg.crossplane.io/crossplane-contrib/provider-aws-s3",
            "crossplane-contrib-provider-aws-s3",
        ),
        ("index.docker.io/Org/Fn_1", "rg-n1"),
    ],
)
def test_dependency_names_follow_crossplane_s_dns_label(source: str, name: str) -> None:
    assert catalog.dependency_name(source) == name


def test_dns_label_stops_at_63_characters_as_crossplane_runtime_does() -> None:
    long = "a" * 62 + "-b-c"
    # Index 62 is a `-`: not written, and nothing after it is read.
    assert catalog.to_dns_label(long) == "a" * 62
    assert catalog.to_dns_label("-a.b:c/d-") == "a-b-c-d"


def test_compositions_call_the_function_by_the_name_its_dependency_gets() -> None:
    from plinth.api.catalog import CLAIMS

    assert catalog.dependency_name(FUNCTION_PACKAGE) == FUNCTION_NAME
    for flavor in Flavor:
        for api in CLAIMS:
            (step,) = composition(api, flavor)["spec"]["pipeline"]
            assert step["functionRef"] == {"name": FUNCTION_NAME}
    for rel in ("compositions/v2/tenant.yaml", "examples/functions.yaml"):
        assert FUNCTION_NAME in (REPO / rel).read_text()


def test_one_version_for_the_wheel_and_every_package() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" not in pyproject["project"]
    assert pyproject["project"]["dynamic"] == ["version"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "plinth.__version__"}
    specs = packages.package_specs()
    assert {s.version for s in specs} == {f"v{__version__}"}
    assert {s.source for s in specs} == {
        FUNCTION_PACKAGE,
        CONFIGURATION_PACKAGE,
        f"{CONFIGURATION_PACKAGE}-legacy",
    }
    for spec in specs:
        for docs in packages.contents(spec).values():
            for doc in docs:
                assert doc["metadata"]["labels"][catalog.VERSION_LABEL] == __version__


def test_one_license_for_the_wheel_the_image_and_every_package() -> None:
    """The license the packages and the image declare is the one the repository and the wheel
    ship, as an SPDX expression (the table form breaks setuptools builds after 2027-02-18)."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert pyproject["project"]["license"] == "Apache-2.0"
    assert pyproject["project"]["license-files"] == ["LICENSE"]
    assert (REPO / "LICENSE").read_text().lstrip().startswith("Apache License")
    for rel in ("packages/function", "packages/configuration", "packages/configuration-legacy"):
        meta = yaml.safe_load((REPO / rel / "crossplane.yaml").read_text())
        assert meta["metadata"]["annotations"]["meta.crossplane.io/license"] == "Apache-2.0"


@pytest.mark.parametrize(
    ("version", "constraint"),
    [
        ("0.1.0", ">=v0.1.0"),
        ("0.1.7", ">=v0.1.0"),
        ("v1.4.2", ">=v1.4.0"),
        ("2.0.0-rc.1", ">=v2.0.0"),
    ],
)
def test_a_configuration_accepts_the_function_of_its_minor_series(
    version: str, constraint: str
) -> None:
    assert catalog.function_constraint(version) == constraint


@pytest.mark.parametrize("bad", ["1.2", "one.two.three", "1.2.3.4", ""])
def test_a_version_must_be_major_minor_patch(bad: str) -> None:
    with pytest.raises(ValueError, match=r"MAJOR\.MINOR\.PATCH"):
        packages.package_specs(bad)


def test_a_configuration_holds_its_xrds_compositions_and_activation_policy() -> None:
    from plinth.api.catalog import CLAIMS

    for spec in packages.package_specs("0.2.0"):
        files = packages.contents(spec)
        if spec.kind == "Function":
            assert list(files) == ["crossplane.yaml"]
            continue
        flavor = Flavor.LEGACY if spec.id.endswith("legacy") else Flavor.V2
        kinds = sorted(d["kind"] for docs in files.values() for d in docs)
        assert kinds == sorted(
            ["Configuration", "ManagedResourceActivationPolicy"]
            + ["CompositeResourceDefinition", "Composition"] * len(CLAIMS)
        )
        (policy,) = files["activation-policy.yaml"]
        assert policy["spec"]["activate"] == catalog.activations(flavor)
        assert all(
            d["metadata"]["labels"][catalog.VERSION_LABEL] == "0.2.0"
            for docs in files.values()
            for d in docs
        )


def test_two_versions_of_a_configuration_differ_in_content() -> None:
    # Crossplane names a revision after the package digest: identical content would be one
    # revision, and an upgrade no upgrade at all.
    (a,) = [s for s in packages.package_specs("0.1.0") if s.id == "configuration"]
    (b,) = [s for s in packages.package_specs("0.1.1") if s.id == "configuration"]
    assert packages.contents(a) != packages.contents(b)


def test_package_examples_are_the_flavor_s_claims_and_never_fixtures() -> None:
    examples = REPO / "examples"
    for spec in packages.package_specs():
        files = packages.example_files(spec, examples)
        if spec.kind == "Function":
            assert files == []
            continue
        assert files
        assert all(f.is_file() and f.parent.name in ("examples", "legacy") for f in files)
        assert "functions.yaml" not in {f.name for f in files}
        assert "platform.yaml" in {f.name for f in files}


def test_the_index_round_trips(tmp_path: Path) -> None:
    index = packages.PackageIndex()
    built = packages.BuiltPackage(
        id="configuration",
        kind="Configuration",
        source=CONFIGURATION_PACKAGE,
        version="v0.1.0",
        file="configuration-plinth-v0.1.0.xpkg",
        digest="sha256:" + "0" * 64,
        size=1,
        seconds=0.1,
    )
    index.put(built)
    index.put(built.model_copy(update={"size": 2}))
    packages.write_index(tmp_path, index)
    again = packages.read_index(tmp_path)
    assert again == index
    assert len(again.packages) == 1
    assert again.get("configuration") is not None
    assert again.get("configuration").size == 2  # type: ignore[union-attr]


# --- the mirror ----------------------------------------------------------------------------


def test_the_mirror_has_every_provider_the_configurations_pull_in() -> None:
    mirrored = {p.source: p for p in mirror.mirrored_providers()}
    deps = {
        d["provider"] for d in configuration_meta(Flavor.V2)["spec"]["dependsOn"] if "provider" in d
    }
    assert deps <= set(mirrored)
    # And what those pull in: the AWS family package.
    for p in mirrored.values():
        for d in mirror.provider_meta(p, "v2.6.0")["spec"].get("dependsOn", []):
            assert d["provider"] in mirrored
    assert set(mirrored) == deps | {f"{catalog.PROVIDER_REGISTRY}/provider-family-aws"}


def test_mirrored_providers_are_upstream_s_crds_of_the_release_and_metadata() -> None:
    from plinth.generators.gitops import PROVIDER_TAGS

    versions = mirror.versions_of(crds_dir())
    # The releases the platform pins (gitops) are the releases the CRDs come from.
    assert versions["provider-upjet-aws"] == PROVIDER_TAGS["provider-aws"]
    assert versions["provider-kubernetes"] == PROVIDER_TAGS["provider-kubernetes"]
    assert versions["provider-upjet-github"] == PROVIDER_TAGS["provider-upjet-github"]
    covered: set[str] = set()
    for p in mirror.mirrored_providers():
        files = p.crd_files(crds_dir())
        assert files, p.name
        names = {f.stem for f in files}
        covered |= names
        meta = mirror.provider_meta(p, versions[p.folder])
        assert meta["spec"]["capabilities"] == ["SafeStart"]
        assert meta["metadata"]["annotations"][mirror.MIRROR_ANNOTATION] == "crds-only"
        if p.folder == "provider-upjet-aws":
            assert meta["metadata"]["labels"] == {
                "pkg.crossplane.io/provider-family": "provider-family-aws"
            }
            groups = {n.split("_", 1)[0] for n in names}
            assert groups <= set(p.groups), p.name
    # Every kind an activation policy names comes with one of the mirrored packages.
    mrds = {"{1}.{0}".format(*n.split("_", 1)) for n in covered}
    for flavor in Flavor:
        assert set(catalog.activations(flavor)) <= mrds


def test_image_configs_send_every_package_to_the_mirror_and_nothing_else() -> None:
    registry = "127.0.0.1:5443"
    sources = [s.source for s in packages.package_specs()] + [
        p.source for p in mirror.mirrored_providers()
    ]
    configs = mirror.image_configs(registry, sources)
    assert {c["spec"]["matchImages"][0]["prefix"] for c in configs} == {
        "ghcr.io/",
        "xpkg.crossplane.io/",
    }
    for source in sources:
        for ref in (f"{source}:v1.2.3", f"{source}@sha256:{'a' * 64}"):
            assert mirror.rewrite(configs, ref) == f"{registry}/{ref}"
            assert mirror.rewrite(configs, ref) == mirror.mirror_reference(registry, ref)
    assert mirror.rewrite(configs, "docker.io/library/busybox:1") == "docker.io/library/busybox:1"


def test_the_longest_prefix_wins_as_in_crossplane() -> None:
    configs = [
        *mirror.image_configs("mirror.example/all", ["ghcr.io/x/a"]),
        {
            "apiVersion": "pkg.crossplane.io/v1beta1",
            "kind": "ImageConfig",
            "metadata": {"name": "team"},
            "spec": {
                "matchImages": [{"prefix": "ghcr.io/plinth-dev/"}],
                "rewriteImage": {"prefix": "mirror.example/plinth/"},
            },
        },
    ]
    assert mirror.rewrite(configs, "ghcr.io/plinth-dev/f:v1") == "mirror.example/plinth/f:v1"
    assert mirror.rewrite(configs, "ghcr.io/other/f:v1") == "mirror.example/all/ghcr.io/other/f:v1"


def test_image_configs_are_valid_against_crossplane_s_crd(validator: Validator) -> None:
    from conftest import assert_valid

    sources = [s.source for s in packages.package_specs()]
    assert_valid(validator, mirror.image_configs("registry.example.com/mirror", sources), "mirror")


# --- README examples -------------------------------------------------------------------------


def readme_documents(kind: str) -> list[Body]:
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    return [d for b in blocks for d in yaml.safe_load_all(b) if d and d.get("kind") == kind]


def test_the_readme_s_deployment_runtime_config_is_valid_and_production_shaped(
    validator: Validator,
) -> None:
    from conftest import assert_valid

    (drc,) = readme_documents("DeploymentRuntimeConfig")
    assert_valid(validator, [drc], "README DeploymentRuntimeConfig")
    spec = drc["spec"]["deploymentTemplate"]["spec"]
    assert spec["replicas"] >= 2
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    (container,) = spec["template"]["spec"]["containers"]
    # Crossplane's runtime container, whose TLS mounts and TLS_SERVER_CERTS_DIR it keeps: the
    # function serves mTLS only, and no argument here turns that off.
    assert container["name"] == "package-runtime"
    assert "--insecure" not in json.dumps(container)
    assert container["resources"]["requests"]
    assert container["resources"]["limits"]["memory"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    (pdb,) = readme_documents("PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"] == {"pkg.crossplane.io/function": FUNCTION_NAME}
    assert_valid(validator, [pdb], "README PodDisruptionBudget")
    # The runtime config reaches the function through an ImageConfig, for the public name and
    # the mirror's (Crossplane matches it against the image it resolved).
    (runtime,) = [c for c in readme_documents("ImageConfig") if "runtime" in c["spec"]]
    assert_valid(validator, [runtime], "README runtime ImageConfig")
    assert runtime["spec"]["runtime"]["configRef"]["name"] == drc["metadata"]["name"]
    prefixes = [m["prefix"] for m in runtime["spec"]["matchImages"]]
    assert prefixes[0] == FUNCTION_PACKAGE
    assert all(p.endswith(FUNCTION_PACKAGE) for p in prefixes)


def test_the_readme_s_mirror_install_is_what_plinth_generates(validator: Validator) -> None:
    from conftest import assert_valid

    configs = [c for c in readme_documents("ImageConfig") if "rewriteImage" in c["spec"]]
    assert configs
    assert_valid(validator, configs, "README ImageConfig")
    mirror_prefix = (
        configs[0]["spec"]["rewriteImage"]["prefix"]
        .split("/ghcr.io/")[0]
        .split("/xpkg.crossplane.io/")[0]
    )
    assert configs == mirror.image_configs(
        mirror_prefix, [FUNCTION_PACKAGE, f"{catalog.PROVIDER_REGISTRY}/x"]
    )
    (config,) = readme_documents("Configuration")
    assert config["spec"]["package"] == f"{CONFIGURATION_PACKAGE}:v{__version__}"


# --- the real CLI --------------------------------------------------------------------------


def xpkg_package_stream(path: Path) -> list[Body]:
    """The YAML stream of a package file's `io.crossplane.xpkg: base` layer."""
    with tarfile.open(path) as outer:
        (manifest,) = json.loads(outer.extractfile("manifest.json").read())  # type: ignore[union-attr]
        config = json.loads(outer.extractfile(manifest["Config"]).read())  # type: ignore[union-attr]
        labels = config["config"]["Labels"]
        (base,) = [k.split(":", 1)[1] for k, v in labels.items() if v == "base"]
        layer = next(f for f in manifest["Layers"] if base.split(":")[1] in f)
        data = outer.extractfile(layer).read()  # type: ignore[union-attr]
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as inner:
        stream = inner.extractfile("package.yaml").read().decode()  # type: ignore[union-attr]
    return [d for d in yaml.safe_load_all(stream) if d]


@pytest.mark.crossplane
def test_the_real_cli_builds_and_lints_every_package_the_same_twice(
    tmp_path: Path, crossplane_tools: Any
) -> None:
    from plinth.tools.engine import binary

    crossplane, crane = str(crossplane_tools.cli), binary("crane")
    digests = {}
    for run in ("a", "b"):
        index = packages.build(
            tmp_path / run,
            crossplane=crossplane,
            crane=crane,
            examples=REPO / "examples",
        )
        digests[run] = {p.id: p.digest for p in index.packages}
    assert digests["a"] == digests["b"], "a package build is not reproducible"
    index = packages.read_index(tmp_path / "a")
    for p in index.packages:
        docs = xpkg_package_stream(tmp_path / "a" / p.file)
        kinds = [d["kind"] for d in docs]
        if p.kind == "Function":
            assert kinds == ["Function"]
            assert docs[0]["spec"]["capabilities"] == ["composition"]
            continue
        # The CLI ran Crossplane's Configuration linter, which accepts an activation policy.
        flavor = Flavor.LEGACY if p.id.endswith("legacy") else Flavor.V2
        (policy,) = [d for d in docs if d["kind"] == "ManagedResourceActivationPolicy"]
        assert policy["spec"]["activate"] == catalog.activations(flavor)
        assert kinds.count("CompositeResourceDefinition") == 3
        assert kinds.count("Composition") == 3


@pytest.mark.crossplane
def test_a_mirrored_provider_is_a_valid_provider_package(
    tmp_path: Path, crossplane_tools: Any
) -> None:
    from plinth.tools.engine import binary

    (sqs,) = [p for p in mirror.mirrored_providers() if p.name == "provider-aws-sqs"]
    built = mirror.build_mirror(
        sqs,
        crds_dir(),
        tmp_path,
        version="v2.6.0",
        crossplane=str(crossplane_tools.cli),
        crane=binary("crane"),
    )
    docs = xpkg_package_stream(tmp_path / built.file)
    assert docs[0]["kind"] == "Provider"
    assert docs[0]["spec"]["dependsOn"] == [
        {"provider": f"{catalog.PROVIDER_REGISTRY}/provider-family-aws", "version": ">= 0.0.0"}
    ]
    crds = {d["metadata"]["name"] for d in docs[1:]}
    assert crds == {"{1}.{0}".format(*f.stem.split("_", 1)) for f in sqs.crd_files(crds_dir())}
