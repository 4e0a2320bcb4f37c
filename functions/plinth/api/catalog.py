"""The catalog of claim APIs: for each claim kind, its names in both flavors and its models."""

from __future__ import annotations

from dataclasses import dataclass

from plinth.api.account import AccountSpec, AccountStatus
from plinth.api.app import AppSpec, AppStatus
from plinth.api.base import ApiModel
from plinth.api.flavor import API_VERSION, FLAVORS, Flavor
from plinth.api.tenant import TenantSpec, TenantStatus


@dataclass(frozen=True)
class PrinterColumn:
    name: str
    json_path: str
    type: str = "string"
    priority: int = 0


@dataclass(frozen=True)
class ClaimApi:
    """One self-service API, e.g. the TenantClaim."""

    noun: str  # account, tenant, app: names files, docs and composers
    kind: str  # the v2 composite kind, and the legacy claim kind
    legacy_xr_kind: str
    description: str
    spec_model: type[ApiModel]
    status_model: type[ApiModel]
    printer_columns: tuple[PrinterColumn, ...]

    @property
    def plural(self) -> str:
        return self.kind.lower() + "s"

    @property
    def legacy_xr_plural(self) -> str:
        return self.legacy_xr_kind.lower() + "s"

    def xr_kind(self, flavor: Flavor) -> str:
        return self.kind if flavor is Flavor.V2 else self.legacy_xr_kind

    def api_version(self, flavor: Flavor) -> str:
        return f"{FLAVORS[flavor].group}/{API_VERSION}"


_PHASE = PrinterColumn("Phase", ".status.phase")
_MESSAGE = PrinterColumn("Message", ".status.message", priority=1)

ACCOUNT = ClaimApi(
    noun="account",
    kind="AccountClaim",
    legacy_xr_kind="XAccount",
    description="An AWS account vended in the team's organizational unit and baselined: "
    "VPC, transit gateway attachment, AWS Backup, Config rules, SSO access and a budget.",
    spec_model=AccountSpec,
    status_model=AccountStatus,
    printer_columns=(
        PrinterColumn("Environment", ".spec.environment"),
        PrinterColumn("Account", ".status.accountId"),
        _PHASE,
        _MESSAGE,
    ),
)
TENANT = ClaimApi(
    noun="tenant",
    kind="TenantClaim",
    legacy_xr_kind="XTenant",
    description="A team onboarded onto the shared multi-tenant EKS clusters: namespaces, "
    "network policies, RBAC, quotas, certificates and cluster access.",
    spec_model=TenantSpec,
    status_model=TenantStatus,
    printer_columns=(PrinterColumn("Team", ".spec.team"), _PHASE, _MESSAGE),
)
APP = ClaimApi(
    noun="app",
    kind="AppClaim",
    legacy_xr_kind="XApp",
    description="A service onboarded onto the platform: repository, CI, delivery through "
    "Argo CD, runtime, observability and the cloud resources it needs.",
    spec_model=AppSpec,
    status_model=AppStatus,
    printer_columns=(PrinterColumn("Tenant", ".spec.tenant"), _PHASE, _MESSAGE),
)

CLAIMS: tuple[ClaimApi, ...] = (ACCOUNT, TENANT, APP)


def find_claim_api(api_version: str, kind: str) -> tuple[ClaimApi, Flavor] | None:
    """The claim API and flavor of an object, whether it is a v2 XR, legacy claim or legacy XR."""
    group = api_version.split("/", 1)[0]
    for flavor, info in FLAVORS.items():
        if info.group != group:
            continue
        for api in CLAIMS:
            if kind in (api.kind, api.legacy_xr_kind) and (
                flavor is Flavor.LEGACY or kind == api.kind
            ):
                return api, flavor
    return None
