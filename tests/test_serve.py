"""`plinth serve` answers real RunFunctionRequests over gRPC, insecure and with mTLS."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1 import run_function_pb2_grpc as grpcv1

from certs import write_tls_dirs
from conftest import EXAMPLES, platform_docs
from plinth.runtime.function import run_function
from plinth.tools.render import RenderError, build_request, grpc_call, render, to_composite
from plinth.tools.yamlio import read_path
from serving import plinth_serve

TENANT = next(d.body for d in read_path(str(EXAMPLES / "tenant.yaml")))


def _request() -> fnv1.RunFunctionRequest:
    return build_request(
        to_composite(TENANT),
        required={"platform": platform_docs(), "account-payments-dev": []},
        tag="grpc",
    )


def test_insecure_server_answers_a_real_request() -> None:
    with plinth_serve() as endpoint, grpc.insecure_channel(endpoint) as channel:
        rsp = grpcv1.FunctionRunnerServiceStub(channel).RunFunction(_request(), timeout=10)
    assert rsp == run_function(_request())
    assert rsp.meta.tag == "grpc"
    assert rsp.desired.resources


def test_mtls_server_requires_and_accepts_a_client_certificate(tmp_path: Path) -> None:
    server_dir, client_dir = write_tls_dirs(tmp_path)
    with plinth_serve(server_dir) as endpoint:
        creds = grpc.ssl_channel_credentials(
            root_certificates=(client_dir / "ca.crt").read_bytes(),
            private_key=(client_dir / "tls.key").read_bytes(),
            certificate_chain=(client_dir / "tls.crt").read_bytes(),
        )
        with grpc.secure_channel(endpoint, creds) as channel:
            rsp = grpcv1.FunctionRunnerServiceStub(channel).RunFunction(_request(), timeout=10)
        assert rsp == run_function(_request())
        anonymous = grpc.ssl_channel_credentials(
            root_certificates=(client_dir / "ca.crt").read_bytes()
        )
        with grpc.secure_channel(endpoint, anonymous) as channel, pytest.raises(grpc.RpcError):
            grpcv1.FunctionRunnerServiceStub(channel).RunFunction(_request(), timeout=5)


def test_render_through_endpoint_equals_in_process(tmp_path: Path) -> None:
    server_dir, client_dir = write_tls_dirs(tmp_path)
    local = render(to_composite(TENANT), extra_resources=platform_docs())
    with plinth_serve(server_dir) as endpoint:
        remote = render(
            to_composite(TENANT),
            grpc_call(endpoint, tls_certs_dir=str(client_dir)),
            extra_resources=platform_docs(),
        )
    assert remote.documents() == local.documents()


def test_unreachable_endpoint_is_a_clear_error() -> None:
    from serving import free_port

    call = grpc_call(f"127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(RenderError, match="cannot reach the function"):
        render(to_composite(TENANT), call, extra_resources=platform_docs())
