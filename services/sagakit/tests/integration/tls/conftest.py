"""A private Redis and Postgres that speak only TLS, with certificates made for the test.

The CA and the server certificate (for `localhost` only, no IP address in it, so a
client that does not check the host name is caught) are made with `cryptography`.
redis-server listens on a TLS port only; Postgres accepts `hostssl` connections only.
Both come from the binaries `make test` installs (scripts/ensure-tools.sh); as root,
Postgres runs as the `postgres` user, like `sagactl up --embedded` does.
"""

from __future__ import annotations

import datetime
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

INSTALL = "scripts/ensure-tools.sh installs it (Debian packages postgresql, redis-server)"
PG_HBA = "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhost all all all reject\n"


@dataclass(frozen=True)
class Pki:
    ca: Path  # the CA certificate the clients trust
    other_ca: Path  # a CA that signed nothing the servers present
    cert: Path
    key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: str, key: ec.EllipticCurvePrivateKey, issuer: str, signer: ec.EllipticCurvePrivateKey
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    is_ca = subject == issuer
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), False
        )
    )
    if not is_ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
    return builder.sign(signer, hashes.SHA256())


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="session")
def pki() -> Iterator[Pki]:
    """A CA, a certificate for `localhost` it signed, and an unrelated CA."""
    # Under /tmp, not pytest's tmp_path: the `postgres` user must be able to read it.
    folder = Path(tempfile.mkdtemp(prefix="saga-tls-"))
    folder.chmod(0o755)
    ca_key, other_key, key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    files = Pki(folder / "ca.crt", folder / "other-ca.crt", folder / "tls.crt", folder / "tls.key")
    files.ca.write_bytes(_pem(_certificate("saga test CA", ca_key, "saga test CA", ca_key)))
    files.other_ca.write_bytes(_pem(_certificate("other CA", other_key, "other CA", other_key)))
    files.cert.write_bytes(_pem(_certificate("localhost", key, "saga test CA", ca_key)))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    files.key.chmod(0o600)
    yield files
    shutil.rmtree(folder, ignore_errors=True)


def _binary(name: str) -> str:
    # Debian keeps the Postgres server programs off the PATH, in versioned folders.
    versioned = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    found = shutil.which(name) or (versioned[-1] if versioned else None)
    if found is None:
        pytest.fail(f"{name} is not installed: {INSTALL}", pytrace=False)
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"the TLS server did not start: {log.read_text()[-2000:]}", pytrace=False)


@pytest.fixture(scope="session")
def tls_redis(pki: Pki) -> Iterator[int]:
    """The port of a redis-server that speaks only TLS."""
    port, log = _free_port(), pki.ca.parent / "redis.log"
    command = [_binary("redis-server"), "--port", "0", "--tls-port", str(port)]
    command += ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    command += ["--tls-cert-file", str(pki.cert), "--tls-key-file", str(pki.key)]
    command += ["--tls-ca-cert-file", str(pki.ca), "--tls-auth-clients", "no"]
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=output)
    _wait_for_port(port, process, log)
    yield port
    process.terminate()
    process.wait(timeout=10)


def _as_postgres() -> list[str]:
    # Postgres refuses to run as root.
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


@pytest.fixture(scope="session")
def tls_postgres(pki: Pki) -> Iterator[int]:
    """The port of a Postgres that accepts TLS connections only (trust, user postgres)."""
    data, port = pki.ca.parent / "pgdata", _free_port()
    if os.geteuid() == 0:
        shutil.chown(pki.key, user="postgres")
        shutil.chown(pki.ca.parent, user="postgres")
    _run(_binary("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust")
    _run("sh", "-c", f"printf '{PG_HBA}' > {data}/pg_hba.conf")
    options = f"-p {port} -c listen_addresses=127.0.0.1 -k {data} -c ssl=on"
    options += f" -c ssl_cert_file={pki.cert} -c ssl_key_file={pki.key}"
    log = data.parent / "postgres.log"
    _run(_binary("pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "start")
    yield port
    _run(_binary("pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")


def _run(*command: str) -> None:
    """Run a Postgres program (as `postgres` when we are root); fail with its output."""
    done = subprocess.run([*_as_postgres(), *command], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"{command[0]} failed: {done.stdout}{done.stderr}", pytrace=False)
