"""One composer per claim: pure functions from a typed claim and observed state to resources."""

from __future__ import annotations

from plinth.compose import account, app, tenant
from plinth.core.composition import Composer, RequirementsOf

COMPOSERS: dict[str, Composer] = {
    "account": account.compose,
    "tenant": tenant.compose,
    "app": app.compose,
}

# Required resources a claim needs besides the platform EnvironmentConfig.
REQUIREMENTS: dict[str, RequirementsOf] = {
    "app": app.requirements,
    "tenant": tenant.requirements,
}
