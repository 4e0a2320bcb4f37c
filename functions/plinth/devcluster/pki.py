"""Certificates for the local control plane: one CA signs the API server's serving certificate,
the admin and component client certificates, Crossplane's client certificate and the function's
serving certificate (Crossplane dials functions with mTLS against its CA).

`cryptography` comes with Plinth's dev extra (`pip install 'plinth[dev]'`).
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def _crypto() -> Any:
    try:
        import cryptography  # noqa: F401
    except ImportError:  # pragma: no cover - the dev extra installs it
        raise SystemExit(
            "plinth dev needs the 'cryptography' package: pip install 'plinth[dev]'"
        ) from None
    from cryptography import x509

    return x509


@dataclass(frozen=True)
class Pair:
    cert: Path
    key: Path


class Pki:
    """A CA in `root`, and certificates issued by it (EC P-256, valid for 30 days)."""

    def __init__(self, root: Path) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        _crypto()
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._x509, self._hashes, self._ser, self._ec = x509, hashes, serialization, ec
        self._now = datetime.datetime.now(datetime.UTC)
        self._ca_key = ec.generate_private_key(ec.SECP256R1())
        self._ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "plinth-dev-ca")])
        self._ca = (
            x509.CertificateBuilder()
            .subject_name(self._ca_name)
            .issuer_name(self._ca_name)
            .public_key(self._ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self._now - datetime.timedelta(minutes=5))
            .not_valid_after(self._now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self._ca_key, hashes.SHA256())
        )
        self.ca = root / "ca.crt"
        self.ca.write_bytes(self.ca_pem)

    @property
    def ca_pem(self) -> bytes:
        return bytes(self._ca.public_bytes(self._ser.Encoding.PEM))

    def _key_pem(self, key: Any) -> bytes:
        return bytes(
            key.private_bytes(
                self._ser.Encoding.PEM,
                self._ser.PrivateFormat.PKCS8,
                self._ser.NoEncryption(),
            )
        )

    def issue(
        self,
        name: str,
        common_name: str,
        *,
        organizations: tuple[str, ...] = (),
        server: bool = False,
        client: bool = False,
    ) -> Pair:
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        x509 = self._x509
        key = self._ec.generate_private_key(self._ec.SECP256R1())
        attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
        usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + (
            [ExtendedKeyUsageOID.CLIENT_AUTH] if client else []
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attrs))
            .issuer_name(self._ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self._now - datetime.timedelta(minutes=5))
            .not_valid_after(self._now + datetime.timedelta(days=30))
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.DNSName("localhost"),
                        x509.DNSName("kubernetes.default.svc"),
                        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    ]
                ),
                critical=False,
            )
        cert = builder.sign(self._ca_key, self._hashes.SHA256())
        pair = Pair(self.root / f"{name}.crt", self.root / f"{name}.key")
        pair.cert.write_bytes(cert.public_bytes(self._ser.Encoding.PEM))
        pair.key.write_bytes(self._key_pem(key))
        pair.key.chmod(0o600)
        return pair

    def tls_dir(self, name: str, pair: Pair) -> Path:
        """A directory with tls.crt, tls.key and ca.crt, the layout Crossplane's components read."""
        d = self.root / name
        d.mkdir(exist_ok=True)
        (d / "tls.crt").write_bytes(pair.cert.read_bytes())
        (d / "tls.key").write_bytes(pair.key.read_bytes())
        (d / "ca.crt").write_bytes(self.ca_pem)
        return d

    def service_account_keys(self) -> Pair:
        """The key pair the API server signs (and verifies) service account tokens with."""
        key = self._ec.generate_private_key(self._ec.SECP256R1())
        pair = Pair(self.root / "sa.pub", self.root / "sa.key")
        pair.key.write_bytes(self._key_pem(key))
        pair.cert.write_bytes(
            key.public_key().public_bytes(
                self._ser.Encoding.PEM, self._ser.PublicFormat.SubjectPublicKeyInfo
            )
        )
        return pair
