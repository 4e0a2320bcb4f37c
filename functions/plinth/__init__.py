"""Plinth: self-service AccountClaim, TenantClaim and AppClaim APIs for Crossplane."""

__version__ = "0.1.0"
