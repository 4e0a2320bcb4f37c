"""Generated manifests match the models, and are valid Crossplane objects."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import REPO, assert_valid
from plinth.api.catalog import CLAIMS
from plinth.api.flavor import Flavor
from plinth.cli import main
from plinth.generators import generated
from plinth.generators.crossplane import composition, xrd
from plinth.tools.validate import Validator
from plinth.tools.yamlio import read_path


def test_checked_in_files_match_the_models() -> None:
    result = CliRunner().invoke(main, ["generate", "--check", "--root", str(REPO)])
    assert result.exit_code == 0, result.output


def test_generate_reports_drift(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["generate", "--root", str(tmp_path)]).exit_code == 0
    xrd_file = tmp_path / "xrds" / "v2" / "tenant.yaml"
    xrd_file.write_text(xrd_file.read_text().replace("maxLength: 30", "maxLength: 31"))
    result = runner.invoke(main, ["generate", "--check", "--root", str(tmp_path)])
    assert result.exit_code == 1
    assert "xrds/v2/tenant.yaml" in result.output


@pytest.mark.parametrize("flavor", list(Flavor))
@pytest.mark.parametrize("api", CLAIMS, ids=lambda a: a.noun)
def test_xrd_and_composition_are_valid_crossplane_objects(
    validator: Validator, api, flavor
) -> None:  # type: ignore[no-untyped-def]
    assert_valid(validator, [xrd(api, flavor), composition(api, flavor)], f"{api.noun}/{flavor}")


def test_v2_xrds_offer_no_claims_and_legacy_xrds_do() -> None:
    for api in CLAIMS:
        v2 = xrd(api, Flavor.V2)["spec"]
        legacy = xrd(api, Flavor.LEGACY)["spec"]
        assert v2["scope"] == "Namespaced"
        assert "claimNames" not in v2
        assert legacy["scope"] == "LegacyCluster"
        assert legacy["claimNames"]["kind"] == api.kind
        assert v2["group"] != legacy["group"], "one group can hold only one flavor of a claim"


def test_every_generated_file_is_checked_in() -> None:
    g = generated()
    for rel in g.documents:
        assert (REPO / rel).is_file(), rel
        assert read_path(str(REPO / rel))
    for rel in (*g.texts, *g.patches):
        assert (REPO / rel).is_file(), rel


def test_configuration_depends_on_every_provider_group_the_examples_compose() -> None:
    from conftest import EXAMPLES, claim_docs, render_claim
    from plinth.generators.crossplane import configuration_meta

    deps = {
        d.get("provider", d.get("function", ""))
        for d in configuration_meta(Flavor.V2)["spec"]["dependsOn"]
    }
    for path in EXAMPLES.glob("*.yaml"):
        for doc in claim_docs(path):
            tenants = [d.body for d in read_path(str(EXAMPLES)) if d.kind == "TenantClaim"]
            for body in render_claim(doc.body, extra=tenants).resources:
                group = body["apiVersion"].split("/")[0]
                if group.endswith("aws.m.upbound.io"):
                    service = group.split(".")[0]
                    assert any(d.endswith(f"provider-aws-{service}") for d in deps), service
                elif group.startswith("kubernetes."):
                    assert any(d.endswith("provider-kubernetes") for d in deps)
                elif "github" in group:
                    assert any(d.endswith("provider-upjet-github") for d in deps)
