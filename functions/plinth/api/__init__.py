"""The APIs Plinth owns: claim specs, their statuses, and the platform's EnvironmentConfig.

These pydantic models are the single source of truth: the XRDs in `xrds/` are generated
from them (`plinth xrds`), and the function parses every request through them.
"""
