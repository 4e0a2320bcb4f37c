"""The function runtime: the gRPC edge (RunFunctionRequest in, RunFunctionResponse out), the
server, and protobuf Struct conversion. What the function image installs and runs; it never
imports the tools (render, validate) or the generators."""
