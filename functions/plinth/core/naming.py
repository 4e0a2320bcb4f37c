"""Deterministic names for composed resources, valid for Kubernetes and for AWS.

A name must not change between reconciles (Crossplane would replace the resource), so every
name is a pure function of the claim and the resource's role. Readable names are kept when
they fit; a name that is too long keeps a readable prefix and ends with a short hash of the
full name, so two long names that share a prefix still differ.
"""

from __future__ import annotations

import hashlib
import re

DNS_LABEL_MAX = 63
_HASH_LEN = 8
_INVALID = re.compile(r"[^a-z0-9-]+")
_DASHES = re.compile(r"-{2,}")
# What dns_label's normalization leaves as it is: nearly every name a composer builds.
_NORMAL = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:_HASH_LEN]


def fit(name: str, max_len: int, *, sep: str = "-") -> str:
    """Shorten `name` to `max_len` keeping it unique: prefix + sep + hash of the full name."""
    if len(name) <= max_len:
        return name
    keep = max_len - _HASH_LEN - len(sep)
    return f"{name[:keep].rstrip(sep + '.')}{sep}{_digest(name)}"


def dns_label(*parts: str, max_len: int = DNS_LABEL_MAX) -> str:
    """A DNS-1123 label built from `parts`: lower case, [a-z0-9-], at most `max_len` long.

    Valid as a Kubernetes object name of any kind, a namespace, and a label value.
    """
    raw = "-".join(filter(None, parts))
    if len(raw) <= max_len and _NORMAL.fullmatch(raw):
        return raw
    name = _DASHES.sub("-", _INVALID.sub("-", raw.lower())).strip("-")
    if not name:
        raise ValueError(f"cannot build a name from {parts!r}")
    if not name[0].isalpha():
        name = "x-" + name
    if name != raw:
        # Different inputs that normalize alike ("Team_A", "team-a") must not collide.
        name = f"{name}-{_digest(raw)}"
    return fit(name, max_len)


# AWS limits of the names Plinth sets as external names (metadata.name stays a DNS label).
AWS_NAME_LIMITS: dict[str, int] = {
    "iam.Role": 64,
    "iam.Policy": 128,
    "s3.Bucket": 63,
    "rds.Instance": 63,
    "rds.SubnetGroup": 255,
    "elasticache.ReplicationGroup": 40,
    "elasticache.SubnetGroup": 255,
    "elasticache.User": 40,
    "elasticache.UserGroup": 40,
    "sqs.Queue": 80,
    "ecr.Repository": 256,
    "secretsmanager.Secret": 512,
    "backup.Vault": 50,
    "backup.Plan": 50,
    "backup.Selection": 50,
    "budgets.Budget": 100,
    "configservice.ConfigRule": 128,
    "ec2.SecurityGroup": 255,
    "organizations.Account": 50,
}


def aws_name(resource: str, *parts: str, suffix: str = "") -> str:
    """An AWS resource name within the limit AWS sets for `resource` (e.g. "iam.Role").

    Lower-case DNS-label characters are valid for every AWS name Plinth sets, so one charset
    serves all of them; `suffix` (e.g. ".fifo") is kept intact at the end.
    """
    limit = AWS_NAME_LIMITS[resource] - len(suffix)
    base = dns_label(*parts, max_len=min(limit, 255))
    return fit(base, limit) + suffix
