"""Typed builders of managed resources, one module per provider.

Builders know each provider's API shape in both flavors (group, providerConfigRef, deletion
semantics); composers know what a platform needs. Composers never spell an apiVersion.
"""
