"""mTLS server credentials that follow certificate rotation without a restart.

Crossplane mounts the function's server certificate from a Secret (`tls.crt`, `tls.key`,
`ca.crt` in TLS_SERVER_CERTS_DIR) and renews it in place; the kubelet swaps the mounted files
atomically. gRPC asks the fetcher below before every new connection's handshake, so a renewed
certificate or CA takes effect for the next connection; established connections keep the
certificate they were opened with. Looking costs three stat() calls; the files are read only
when one of them changed.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import grpc

log = logging.getLogger("plinth.tls")

FILES = ("tls.crt", "tls.key", "ca.crt")

Signature = tuple[tuple[int, int, int], ...]


class CertificateReloader:
    """Reads `tls.crt`, `tls.key` and `ca.crt` from a directory, again whenever they change."""

    def __init__(self, certs_dir: str | os.PathLike[str]) -> None:
        self.dir = Path(certs_dir)
        self._lock = threading.Lock()
        self._signature = self._stat()
        self._contents = self._read()
        self.reloads = 0

    def _stat(self) -> Signature:
        # stat() follows the kubelet's ..data symlink, so a swapped mount shows a new inode.
        out = []
        for name in FILES:
            st = (self.dir / name).stat()
            out.append((st.st_ino, st.st_mtime_ns, st.st_size))
        return tuple(out)

    def _read(self) -> tuple[bytes, bytes, bytes]:
        crt, key, ca = ((self.dir / n).read_bytes() for n in FILES)
        return crt, key, ca

    def configuration(self) -> grpc.ServerCertificateConfiguration:
        crt, key, ca = self._contents
        return grpc.ssl_server_certificate_configuration([(key, crt)], root_certificates=ca)

    def fetch(self) -> grpc.ServerCertificateConfiguration | None:
        """gRPC's certificate_configuration_fetcher: a new configuration, or None for no
        change. Never raises: a half-written rotation keeps the certificate in use."""
        try:
            with self._lock:
                signature = self._stat()
                if signature == self._signature:
                    return None
                contents = self._read()
                self._signature = signature
                if contents == self._contents:
                    return None
                if not all(contents):
                    log.warning(
                        "TLS files in %s are empty; keeping the certificate in use", self.dir
                    )
                    return None
                self._contents = contents
                self.reloads += 1
            log.info("reloaded the TLS certificate and CA from %s", self.dir)
            return self.configuration()
        except OSError as e:
            log.warning(
                "cannot read the TLS files in %s (%s); keeping the ones in use", self.dir, e
            )
            return None


def server_credentials(
    certs_dir: str | os.PathLike[str],
) -> tuple[grpc.ServerCredentials, CertificateReloader]:
    """mTLS credentials (callers must present a certificate signed by `ca.crt`) that reload the
    directory's files when they change."""
    reloader = CertificateReloader(certs_dir)
    creds = grpc.dynamic_ssl_server_credentials(
        reloader.configuration(),
        # grpc-stubs omit the None the fetcher returns for "no change", which gRPC documents.
        reloader.fetch,  # type: ignore[arg-type]
        require_client_authentication=True,
    )
    return creds, reloader
