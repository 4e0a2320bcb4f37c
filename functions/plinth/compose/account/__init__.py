"""Compose an AccountClaim: the AWS account, then access to it, then its baseline.

Where each thing is built:

* `organization` - the AWS Organizations Account (phase 1)
* `provider_config` - the AWS ProviderConfig that acts in the new account (phase 2)
* `access` - IAM Identity Center account assignments (phase 2)
* `cidrs` - the subnet layout derived from the VPC CIDR
* `network` - VPC, subnets, gateways, route tables, the transit gateway attachment (phase 3)
* `encryption` - EBS encryption by default (phase 3)
* `public_access` - the account-level S3 public access block (phase 3)
* `backup` - AWS Backup vault, plan, selection and its IAM role (phase 3)
* `config_rules` - AWS Config managed rules (phase 3)
* `budget` - the monthly budget (phase 3)
* `ci_identity` - the GitHub Actions OIDC provider app pipelines assume roles with (phase 3)
* `protection` - Usages that keep the Account while its baseline exists (phase 3)
* `phases` - the gates between the phases, and the claim's status

The claim's overrides (plinth.core.overrides) are applied last, as in every claim.
"""

from __future__ import annotations

from plinth.api.account import AccountSpec
from plinth.api.base import ApiModel
from plinth.compose.account import phases
from plinth.core import overrides
from plinth.core.composition import Claim, Composition, Observed, Required


def compose(claim: Claim, spec: ApiModel, observed: Observed, required: Required) -> Composition:
    assert isinstance(spec, AccountSpec)
    out = phases.compose(claim, spec, observed, required)
    overrides.apply(out, spec.overrides)
    return out


__all__ = ["compose"]
