"""Backstage templates: generated from the XRD schemas, checked in, valid per Backstage's schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from conftest import EXAMPLES, REPO, claim_docs
from plinth.api.catalog import CLAIMS, ClaimApi
from plinth.generators.backstage import files, spec_schema, template, title
from plinth.tools.yamlio import read_path

SCHEMAS = Path(__file__).parent / "data" / "backstage"


def _template_validator() -> jsonschema.Draft7Validator:
    resources = []
    for path in SCHEMAS.glob("*.schema.json"):
        schema = json.loads(path.read_text())
        resources.append((schema["$id"], Resource(contents=schema, specification=DRAFT7)))
    registry: Registry = Registry().with_resources(resources)
    root = json.loads((SCHEMAS / "Template.v1beta3.schema.json").read_text())
    return jsonschema.Draft7Validator(root, registry=registry)


VALIDATOR = _template_validator()


@pytest.mark.parametrize("api", CLAIMS, ids=lambda a: a.noun)
def test_checked_in_template_is_valid_per_backstage(api: ClaimApi) -> None:
    path = REPO / "gitops" / "backstage" / api.noun / "template.yaml"
    docs = [d.body for d in read_path(str(path))]
    assert docs == [template(api)], "run `plinth generate`"
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATOR.iter_errors(docs[0])]
    assert not errors, errors


def test_the_vendored_schema_rejects_a_broken_template() -> None:
    broken = template(CLAIMS[0])
    del broken["spec"]["steps"]
    assert list(VALIDATOR.iter_errors(broken))


def _spec_form(t: dict[str, Any]) -> dict[str, Any]:
    page = next(p for p in t["spec"]["parameters"] if "spec" in p["properties"])
    form: dict[str, Any] = page["properties"]["spec"]
    return form


@pytest.mark.parametrize("api", CLAIMS, ids=lambda a: a.noun)
def test_form_carries_the_xrd_schema(api: ClaimApi) -> None:
    """Every field, description, enum, default and required list of the XRD reaches the form."""

    def walk(xrd: dict[str, Any], form: dict[str, Any], path: str) -> None:
        for key in ("type", "description", "enum", "default", "pattern", "maxItems"):
            assert form.get(key) == xrd.get(key), f"{path}.{key}"
        assert form.get("required") == xrd.get("required"), path
        for name, sub in (xrd.get("properties") or {}).items():
            assert form["properties"][name]["title"] == title(name)
            walk(sub, form["properties"][name], f"{path}.{name}")
        if isinstance(xrd.get("items"), dict):
            walk(xrd["items"], form["items"], f"{path}[]")

    form = _spec_form(template(api))
    jsonschema.Draft7Validator.check_schema(form)
    walk(spec_schema(api), form, "spec")


@pytest.mark.parametrize("api", CLAIMS, ids=lambda a: a.noun)
def test_example_claims_pass_the_form(api: ClaimApi) -> None:
    form = jsonschema.Draft7Validator(_spec_form(template(api)))
    specs = [
        d.body["spec"]
        for p in EXAMPLES.rglob("*.yaml")
        for d in claim_docs(p)
        if d.kind == api.kind
    ]
    assert specs
    for spec in specs:
        assert not list(form.iter_errors(spec)), spec


def test_steps_write_into_the_team_directory_and_open_a_pull_request() -> None:
    for api in CLAIMS:
        steps = template(api)["spec"]["steps"]
        assert [s["action"] for s in steps] == ["fetch:template", "publish:github:pull-request"]
        assert steps[0]["input"]["targetPath"] == "teams/${{ parameters.team }}"
        assert steps[0]["input"]["values"]["kind"] == api.kind
    skeleton = list((REPO / "gitops" / "backstage" / "skeleton").iterdir())
    assert [p.name for p in skeleton] == ["${{ values.fileName }}"]


def test_every_template_is_a_generated_file() -> None:
    assert {p.parent.name for p in files()} == {a.noun for a in CLAIMS}


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("email", "Email"),
        ("maxNodeCount", "Max node count"),
        ("claimName", "Claim name"),
        ("awsRegion", "Aws region"),
    ],
)
def test_title(field: str, expected: str) -> None:
    assert title(field) == expected
