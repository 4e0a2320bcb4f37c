"""Reading claims and what they require, and rendering one: shared by render and validate.

Imported only inside commands: it brings the tools (YAML, schemas, the renderer).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from plinth.api.catalog import find_claim_api
from plinth.cli.common import fail
from plinth.tools.render import (
    Rendered,
    grpc_call,
    render,
    step_input,
    step_requirements,
    to_composite,
)
from plinth.tools.schemas import SchemaBundle
from plinth.tools.validate import Issue, Validator
from plinth.tools.yamlio import Document, InputError, read_path_cached, read_paths


def read_claims(paths: tuple[str, ...], filename: str | None) -> list[Document]:
    sources = list(paths[:1]) or ([filename] if filename else [])
    if not sources:
        fail("no claim given: plinth render CLAIM.yaml (or -f - to read stdin)")
    try:
        docs = read_paths(sources)
    except InputError as e:
        fail(str(e))
    claims = [d for d in docs if find_claim_api(d.api_version, d.kind)]
    if not claims:
        kinds = (
            ", ".join(
                sorted(
                    {
                        f"{d.kind or '<no kind>'} ({d.api_version or '<no apiVersion>'})"
                        for d in docs
                    }
                )
            )
            or "nothing"
        )
        fail(
            f"{sources[0]}: no Plinth claim found (found {kinds}); expected AccountClaim, TenantClaim or AppClaim"
        )
    return claims


def claim_repo_namespace(source: str) -> str | None:
    """The namespace of a claim file under `teams/<team>/` in a claim repository: the
    ApplicationSet (gitops/claims) syncs each team's folder into the namespace of that name."""
    parts = Path(source.split("#", 1)[0]).parts
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "teams" and i + 2 < len(parts):
            return parts[i + 1]
    return None


def placed(doc: Document) -> Document:
    """`doc` with the namespace it is applied in, where the file leaves it out."""
    namespace = claim_repo_namespace(doc.source)
    meta = doc.body.get("metadata") or {}
    if namespace is None or meta.get("namespace") or not find_claim_api(doc.api_version, doc.kind):
        return doc
    return Document({**doc.body, "metadata": {**meta, "namespace": namespace}}, doc.source)


def default_required(claim_source: str) -> list[Document]:
    """Without --required-resources: the claims beside this one (its tenant, its account, the
    legacy ProviderConfigs their accounts act through) and
    the platform EnvironmentConfig from the nearest `platform.yaml` here or in a parent directory
    (so examples/legacy/ and a claim repository's teams/<team>/ share one platform file)."""
    path = Path(claim_source.split("#", 1)[0])
    if claim_source.startswith("<stdin>") or not path.parent.is_dir():
        return []
    # Only the files beside the claim: not subfolders (observed fixtures, other teams' folders).
    found = [
        placed(d)
        for d in read_path_cached(str(path.parent), recursive=False)
        if d.kind in ("EnvironmentConfig", "TenantClaim", "AccountClaim", "ProviderConfig")
    ]
    if any(d.kind == "EnvironmentConfig" for d in found):
        return found
    for directory in path.resolve().parent.parents:
        platform = directory / "platform.yaml"
        if platform.is_file():
            return found + [
                d for d in read_path_cached(str(platform)) if d.kind == "EnvironmentConfig"
            ]
    return found


def render_claim(
    doc: Document,
    *,
    composition: dict[str, Any] | None,
    observed: list[Document],
    required: list[Document] | None,
    context: dict[str, Any],
    include_full_xr: bool,
    endpoint: str | None = None,
    tls_certs_dir: str | None = None,
    timeout: float = 30.0,
) -> Rendered:
    claim_issues = Validator(SchemaBundle()).validate_body(doc.body, doc.source)
    if claim_issues:
        raise InvalidClaim(claim_issues)
    xr = to_composite(placed(doc).body)
    extra = required if required is not None else default_required(doc.source)
    call = grpc_call(endpoint, tls_certs_dir=tls_certs_dir, timeout=timeout) if endpoint else None
    return render(
        xr,
        call,
        observed=[d.body for d in observed],
        extra_resources=[d.body for d in extra],
        fn_input=step_input(composition),
        context=context,
        include_full_xr=include_full_xr,
        bootstrap=step_requirements(composition),
    )


class InvalidClaim(Exception):
    def __init__(self, issues: list[Issue]) -> None:
        super().__init__("\n".join(str(i) for i in issues))
        self.issues = issues


def context_of(files: tuple[str, ...], values: tuple[str, ...]) -> dict[str, Any]:
    ctx: dict[str, Any] = {}
    for item in files:
        key, _, path = item.partition("=")
        if not path:
            fail(f"--context-files takes KEY=FILE, got {item!r}")
        try:
            ctx[key] = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as e:
            fail(f"--context-files {item}: {e}")
    for item in values:
        key, _, raw = item.partition("=")
        try:
            ctx[key] = json.loads(raw)
        except json.JSONDecodeError as e:
            fail(f"--context-values {item}: {e}")
    return ctx
