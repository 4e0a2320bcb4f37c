"""The pure core: the claim being composed, what is observed and desired, readiness,
naming, labels and the tenancy boundary. No gRPC, no YAML, no I/O."""
