"""`plinth new account|tenant|app`: write a valid claim into a claim repository.

The claim carries only what the developer chose; the documented defaults come from the XRD
schema at admission, so the file stays short and follows the platform's defaults as they move.
Claims in a claim repository have no namespace: Argo CD sets the team's (teams/<team>/).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from plinth.api.catalog import CLAIMS, ClaimApi
from plinth.api.flavor import FLAVORS, Flavor
from plinth.cli.common import needs_tools

NOUNS = {api.noun: api for api in CLAIMS}
ENVIRONMENTS = ("dev", "staging", "prod")


class MissingField(Exception):
    def __init__(self, flag: str, what: str) -> None:
        super().__init__(f"{flag} is required ({what})")
        self.flag = flag


def claim_path(repo: Path, team: str, api: ClaimApi, name: str) -> Path:
    return repo / "teams" / team / f"{api.noun}-{name}.yaml"


def build_claim(
    api: ClaimApi,
    name: str,
    *,
    team: str,
    flavor: Flavor = Flavor.V2,
    email: str | None = None,
    environments: tuple[str, ...] = (),
    account: str | None = None,
    tenant: str | None = None,
) -> dict[str, Any]:
    """The claim body; raises MissingField naming the flag for a required field not given."""
    spec: dict[str, Any]
    if api.noun == "account":
        if not email:
            raise MissingField("--email", "the account's root email address, unique in AWS")
        if len(environments) != 1:
            raise MissingField("--environment", "exactly one of " + ", ".join(ENVIRONMENTS))
        spec = {"email": email, "team": team, "environment": environments[0]}
    elif api.noun == "tenant":
        if not account:
            raise MissingField("--account", "the name of the team's AccountClaim")
        spec = {
            "team": team,
            "account": {"claimName": account},
            "environments": [{"name": e} for e in environments or ("dev",)],
        }
    else:
        spec = {
            "tenant": tenant or team,
            "environments": [{"name": e} for e in environments or ("dev",)],
        }
    return {
        "apiVersion": f"{FLAVORS[flavor].group}/v1alpha1",
        "kind": api.kind,
        "metadata": {"name": name},
        "spec": spec,
    }


def _interactive() -> bool:
    return sys.stdin.isatty()


def _prompt_missing(api: ClaimApi, values: dict[str, Any]) -> None:
    """Ask for what the flags did not give, only when a person is at the terminal."""
    if not _interactive():
        return
    if not values["team"]:
        values["team"] = click.prompt("Team (directory teams/<team>, and its namespace)")
    if api.noun == "account":
        if not values["email"]:
            values["email"] = click.prompt("Root email address of the account")
        if not values["environments"]:
            values["environments"] = (
                click.prompt("Environment", type=click.Choice(ENVIRONMENTS), default="dev"),
            )
    if api.noun == "tenant" and not values["account"]:
        values["account"] = click.prompt("AccountClaim name", default=f"{values['team']}-dev")


@click.command(name="new")
@click.argument("noun", type=click.Choice(sorted(NOUNS)))
@click.argument("name")
@click.option(
    "--team", help="The team: directory teams/<team> and namespace. Prompted in a terminal."
)
@click.option("--email", help="account: the AWS account's root email address.")
@click.option(
    "--environment",
    "environments",
    multiple=True,
    type=click.Choice(ENVIRONMENTS),
    help="account: its environment; tenant/app: an environment (repeat; default dev).",
)
@click.option("--account", help="tenant: the name of the team's AccountClaim.")
@click.option("--tenant", help="app: the TenantClaim (default: the team).")
@click.option(
    "--flavor", type=click.Choice([f.value for f in Flavor]), default="v2", show_default=True
)
@click.option(
    "--repo",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="Root of the claim repository.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.option("--dry-run", is_flag=True, help="Print the claim instead of writing it.")
@needs_tools
def new_cmd(
    noun: str,
    name: str,
    team: str | None,
    email: str | None,
    environments: tuple[str, ...],
    account: str | None,
    tenant: str | None,
    flavor: str,
    repo: str,
    force: bool,
    dry_run: bool,
) -> None:
    """Write a new claim into a claim repository (teams/<team>/<kind>-<name>.yaml).

    \b
    Examples:
      plinth new account payments-dev --team payments --email aws+payments-dev@example.com --environment dev
      plinth new tenant payments --team payments --account payments-dev --environment dev --environment prod
      plinth new app checkout --team payments
    """
    from plinth.tools.schemas import SchemaBundle
    from plinth.tools.validate import Validator
    from plinth.tools.yamlio import dump_yaml

    api = NOUNS[noun]
    values: dict[str, Any] = {
        "team": team,
        "email": email,
        "environments": environments,
        "account": account,
    }
    _prompt_missing(api, values)
    if not values["team"]:
        click.echo("error: --team is required (the directory teams/<team>)", err=True)
        sys.exit(2)
    try:
        body = build_claim(
            api,
            name,
            team=values["team"],
            flavor=Flavor(flavor),
            email=values["email"],
            environments=tuple(values["environments"]),
            account=values["account"],
            tenant=tenant,
        )
    except MissingField as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    path = claim_path(Path(repo), values["team"], api, name)
    issues = Validator(SchemaBundle()).validate_body(body, str(path))
    if issues:
        click.echo("error: the claim would be invalid:\n" + "\n".join(map(str, issues)), err=True)
        sys.exit(2)
    text = dump_yaml([body])
    if dry_run:
        click.echo(text, nl=False)
        return
    if path.exists() and not force:
        click.echo(f"error: {path} exists (use --force to overwrite)", err=True)
        sys.exit(2)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    click.echo(f"wrote {path}", err=True)
