"""Validate claims and rendered resources against the real schemas.

* Plinth claims: against the XRD schema generated from the models, CEL rules included.
* Managed resources and other custom resources: against their upstream CRD.
* Kubernetes built-in kinds (also those embedded in provider-kubernetes Objects): against
  Kubernetes' own schemas from `kubernetes-validate`.

A kind with no schema is an error, not a skip: a typo in an apiVersion must not pass.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jsonschema
import pydantic

from plinth.api.catalog import CLAIMS, find_claim_api
from plinth.api.flavor import Flavor
from plinth.api.platform import PlatformConfig
from plinth.core.composition import CROSSPLANE_SPEC_FIELDS
from plinth.core.readiness import OBJECT_GROUPS
from plinth.generators.crossplane import xrd
from plinth.generators.openapi import VALUE_CONSTRAINTS
from plinth.runtime.function import format_errors
from plinth.tools.cel import CelUnsupported, apply_defaults, evaluate, walk_rules
from plinth.tools.crds import CrdVersion, SchemaStore
from plinth.tools.yamlio import Document

KUBERNETES_VERSION = "1.34"
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_NAMED_KINDS = {"Namespace", "Service"}
_ENVELOPE = ("apiVersion", "kind", "metadata")


@lru_cache(maxsize=16)
def claim_schema(noun: str, flavor: Flavor) -> dict[str, Any]:
    api = next(a for a in CLAIMS if a.noun == noun)
    schema: dict[str, Any] = xrd(api, flavor)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


@dataclass(frozen=True)
class Issue:
    source: str
    what: str  # Kind/name
    path: str
    message: str

    def __str__(self) -> str:
        where = f" {self.path}:" if self.path else ":"
        return f"{self.source}: {self.what}{where} {self.message}"


def _to_jsonschema(node: dict[str, Any]) -> dict[str, Any]:
    """Kubernetes structural OpenAPI -> JSON Schema, strict about unknown fields like kubectl."""
    out: dict[str, Any] = {}
    nullable = node.get("nullable", False)
    if node.get("x-kubernetes-int-or-string"):
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    elif "type" in node:
        out["type"] = [node["type"], "null"] if nullable else node["type"]
    for k in (
        *VALUE_CONSTRAINTS,
        "required",
        "exclusiveMinimum",
        "exclusiveMaximum",
    ):
        if k in node:
            out[k] = node[k]
    if "enum" in out and nullable:
        out["enum"] = [*out["enum"], None]
    if isinstance(out.get("exclusiveMinimum"), bool):
        out.pop("exclusiveMinimum")  # OpenAPI v3.0 boolean form; rare in CRDs, not enforced here
    if isinstance(out.get("exclusiveMaximum"), bool):
        out.pop("exclusiveMaximum")
    for k in ("allOf", "anyOf", "oneOf"):
        if k in node and k not in out:
            out[k] = [_to_jsonschema(s) for s in node[k]]
    if "not" in node:
        out["not"] = _to_jsonschema(node["not"])
    props = node.get("properties")
    preserve = node.get("x-kubernetes-preserve-unknown-fields", False)
    if props:
        out["properties"] = {k: _to_jsonschema(v) for k, v in props.items()}
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        out["additionalProperties"] = _to_jsonschema(extra)
    elif isinstance(extra, bool):
        out["additionalProperties"] = extra
    elif props and not preserve and not node.get("x-kubernetes-embedded-resource"):
        out["additionalProperties"] = False
    if isinstance(node.get("items"), dict):
        out["items"] = _to_jsonschema(node["items"])
    return out


_COMPILED: dict[int, tuple[dict[str, Any], jsonschema.Draft7Validator]] = {}


def _validator(schema: dict[str, Any]) -> jsonschema.Draft7Validator:
    # Keyed by identity: CRD schemas are loaded once and live as long as the store.
    hit = _COMPILED.get(id(schema))
    if hit is None or hit[0] is not schema:
        hit = (schema, jsonschema.Draft7Validator(_to_jsonschema(schema)))
        _COMPILED[id(schema)] = hit
    return hit[1]


def _schema_errors(
    schema: dict[str, Any], value: Any, prefix: str = ""
) -> Iterator[tuple[str, str]]:
    value = apply_defaults(schema, value)
    v = _validator(schema)
    for err in sorted(v.iter_errors(value), key=lambda e: list(e.absolute_path)):
        path = prefix
        for p in err.absolute_path:
            path += f"[{p}]" if isinstance(p, int) else (f".{p}" if path else str(p))
        yield path, err.message
    for path, rule, message, node in walk_rules(schema, value, prefix):
        ok = _cel_verdict(rule, node)
        if ok is None:
            continue  # rules using Kubernetes-only CEL functions; counted by callers, not fatal
        if not ok:
            yield path, message


_CEL_VERDICTS: dict[tuple[str, str], bool | None] = {}


def _cel_verdict(rule: str, node: Any) -> bool | None:
    """The rule's verdict on `node` (None: unsupported), remembered per rule and value: the
    interpreter is most of what validating a repository costs, and the same rule meets the
    same value again and again (every claim's region, every Object's providerConfigRef)."""
    key = (rule, json.dumps(node, sort_keys=True, default=str))
    if key not in _CEL_VERDICTS:
        try:
            _CEL_VERDICTS[key] = evaluate(rule, node)
        except CelUnsupported:
            _CEL_VERDICTS[key] = None
    return _CEL_VERDICTS[key]


@lru_cache(maxsize=256)
def _kubernetes_validator(version: str, api_version: str, kind: str) -> Any:
    """kubernetes_validate.validate without re-reading its 1.5 MB definitions file and
    rebuilding the validator on every call (most of what it costs): one per kind."""
    import jsonschema as js
    from kubernetes_validate import utils as kv
    from referencing import Registry, Resource

    versions = [v for v in kv.all_versions() if kv.major_minor(v) <= kv.major_minor(version)]
    if not versions:
        raise kv.VersionNotSupportedError(version=kv.major_minor(version))
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema_dir = f"v{versions[-1]}-local-strict"
    try:
        schema = kv.schema_contents(
            f"kubernetes-json-schema/{schema_dir}/{kind.lower()}-{group_version}.json", version
        )
    except FileNotFoundError:
        raise kv.SchemaNotFoundError(
            version=kv.major_minor(version), kind=kind, api_version=api_version
        ) from None
    definitions = _kubernetes_definitions(schema_dir, version)
    registry: Any = Resource.from_contents(schema) @ Registry()
    registry = definitions @ registry
    return js.validators.Draft202012Validator(schema, registry=registry)


@lru_cache(maxsize=4)
def _kubernetes_definitions(schema_dir: str, version: str) -> Any:
    from kubernetes_validate import utils as kv
    from referencing import Resource

    return Resource.from_contents(
        kv.schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", version)
    )


class Validator:
    """Validates documents of any kind Plinth reads or writes."""

    def __init__(self, crds: SchemaStore, *, kubernetes_version: str = KUBERNETES_VERSION) -> None:
        self.crds = crds
        self.kubernetes_version = kubernetes_version
        self.documents = 0
        self._bodies: dict[tuple[str, str, str], dict[str, Any]] = {}

    def validate(self, docs: Iterable[Document]) -> list[Issue]:
        issues: list[Issue] = []
        for doc in docs:
            self.documents += 1
            issues.extend(self.validate_body(doc.body, doc.source))
        return issues

    def validate_body(self, body: dict[str, Any], source: str, prefix: str = "") -> list[Issue]:
        kind = str(body.get("kind", ""))
        api_version = str(body.get("apiVersion", ""))
        name = str((body.get("metadata") or {}).get("name", ""))
        what = f"{kind or '<no kind>'}/{name or '<no name>'}"

        def issue(path: str, message: str) -> Issue:
            return Issue(source, what, f"{prefix}{'.' if prefix and path else ''}{path}", message)

        if not kind or not api_version:
            return [issue("", "apiVersion and kind are required")]
        out = [issue(p, m) for p, m in self._metadata_errors(body, kind)]
        claim = find_claim_api(api_version, kind)
        if claim is not None:
            api, flavor = claim
            schema = claim_schema(api.noun, flavor)
            out += [issue(p, m) for p, m in self._claim_errors(schema, body, flavor)]
            return out
        crd = self.crds.get(api_version, kind)
        if crd is not None:
            value = {k: v for k, v in body.items() if k not in _ENVELOPE}
            out += [issue(p, m) for p, m in _schema_errors(self._body_schema(crd), value)]
            if crd.group in OBJECT_GROUPS and kind == "Object":
                manifest = ((body.get("spec") or {}).get("forProvider") or {}).get("manifest")
                if isinstance(manifest, dict):
                    out += self.validate_body(
                        manifest,
                        source,
                        f"{prefix}{'.' if prefix else ''}spec.forProvider.manifest",
                    )
            if kind == "EnvironmentConfig":
                out += self._platform_errors(body, issue)
            return out
        # Imported here, not at the top: the function's runtime image leaves this package
        # (100 MB of Kubernetes schemas) out, and `plinth serve` imports this module.
        import kubernetes_validate

        try:
            _kubernetes_validator(self.kubernetes_version, api_version, kind).validate(body)
        except kubernetes_validate.SchemaNotFoundError:
            out.append(
                issue(
                    "",
                    f"no schema for {api_version} {kind}: not a Kubernetes kind and no upstream CRD in {self.crds.root}",
                )
            )
        except jsonschema.ValidationError as e:
            path = ".".join(str(p) for p in e.path)
            out.append(issue(path, e.message))
        except kubernetes_validate.InvalidSchemaError as e:  # pragma: no cover - package fault
            out.append(issue("", f"schema error: {e}"))
        return out

    def _body_schema(self, crd: CrdVersion) -> dict[str, Any]:
        """The CRD schema without the envelope (apiVersion, kind, metadata), built once."""
        key = (crd.group, crd.version, crd.kind)
        if key not in self._bodies:
            props = {
                k: v for k, v in (crd.schema.get("properties") or {}).items() if k not in _ENVELOPE
            }
            required = [r for r in crd.schema.get("required", []) if r not in _ENVELOPE]
            self._bodies[key] = {**crd.schema, "properties": props, "required": required}
        return self._bodies[key]

    @staticmethod
    def _metadata_errors(body: dict[str, Any], kind: str) -> Iterator[tuple[str, str]]:
        meta = body.get("metadata")
        if not isinstance(meta, dict):
            yield "metadata", "metadata is required"
            return
        name = meta.get("name")
        if not name and not meta.get("generateName"):
            yield "metadata.name", "a name is required"
            return
        if name:
            pattern, limit = (
                (_DNS_LABEL, 63) if kind in _LABEL_NAMED_KINDS else (_DNS_SUBDOMAIN, 253)
            )
            if len(name) > limit or not pattern.match(name):
                yield (
                    "metadata.name",
                    f"{name!r} is not a valid {kind} name (DNS-1123, at most {limit} characters)",
                )
        for key, value in (meta.get("labels") or {}).items():
            if not isinstance(value, str) or len(value) > 63:
                yield f"metadata.labels.{key}", "label values are strings of at most 63 characters"

    @staticmethod
    def _claim_errors(
        schema: dict[str, Any], body: dict[str, Any], flavor: Flavor
    ) -> Iterator[tuple[str, str]]:
        spec_schema = schema["properties"]["spec"]
        spec = {
            k: v for k, v in (body.get("spec") or {}).items() if k not in CROSSPLANE_SPEC_FIELDS
        }
        if "spec" in body:
            yield from _schema_errors(spec_schema, spec, "spec")
        elif "status" not in body:  # a rendered composite carries only its status
            yield "spec", "spec is required"
        status = {k: v for k, v in (body.get("status") or {}).items() if k != "conditions"}
        if status:
            yield from _schema_errors(schema["properties"]["status"], status, "status")

    @staticmethod
    def _platform_errors(body: dict[str, Any], issue: Any) -> list[Issue]:
        if (
            not (body.get("metadata") or {}).get("labels", {}).get("plinth.dev/platform")
            and (body.get("metadata") or {}).get("name") != "plinth-platform"
        ):
            return []
        try:
            PlatformConfig.model_validate(body.get("data") or {})
        except pydantic.ValidationError as e:
            return [issue("", format_errors("data", e))]
        return []
