#!/usr/bin/env python3
"""Start moto's S3 + KMS + STS server on one local endpoint for s3audit's tests and demo.

Usage:
    .venv/bin/python scripts/moto_server.py [--host 127.0.0.1] [--port 0]
                                            [--enforce-policies] [--tls DIR] [--exit-on-stdin-eof]

Contract (the Rust integration-test harness and scripts/demo rely on it):
  * Once the server accepts connections, exactly one line is written to stdout:
        MOTO_READY http://HOST:PORT
    and stdout is flushed. Nothing else is ever written to stdout: file descriptor 1 is
    pointed at stderr before moto is imported, so request logs, warnings and stray prints
    all land on stderr.
  * --port 0 (the default) binds a free port chosen by the kernel.
  * By default moto's bucket-policy enforcement on object calls is switched off:
    moto evaluates bucket policies without any request context, so a conditional Deny
    such as the TLS-only statement (aws:SecureTransport = false) denies every HEAD/GET
    over plain HTTP. We patch FakeBucket.get_permission to answer NEUTRAL.
    --enforce-policies leaves moto's behaviour untouched (a test uses it to check that
    HEAD 403s are reported as unreadable objects).
  * Request authentication stays off (moto's default) until a client POSTs "0" to
    /moto-api/reset-auth. Once on, moto recomputes every SigV4 signature. It does so from
    werkzeug's already-decoded URL, which fails any object key that needs percent-encoding
    whatever the client signed; S3 canonicalises the path as sent (decoded, then
    URI-encoded once). We patch moto to do the same, so signature tests can use awkward keys.
  * --tls DIR: serve HTTPS (MOTO_READY https://...) with a certificate for 127.0.0.1 and
    localhost, issued by a throwaway certificate authority written to DIR/ca.pem (for
    --ca-bundle). The server's own certificate and key are DIR/server.pem and
    DIR/server.key.
  * --exit-on-stdin-eof: exit as soon as stdin reaches EOF, so that when the parent
    (a test process holding the write end of a pipe) dies, the server dies with it.
  * SIGTERM and SIGINT exit with status 0.
  * STS AssumeRole refuses (AccessDenied) a role that does not exist in its account, and one
    whose trust policy asks for an sts:ExternalId the caller did not give, as AWS does; moto
    itself hands out credentials for any role ARN. Accounts moto's Organizations creates
    have OrganizationAccountAccessRole, as AWS's do.
  * Opt-in regions (moto 5.1.22's Account Management API has alternate contacts only):
    ListRegions, GetRegionOptStatus, EnableRegion and DisableRegion are added, with every
    region enabled for every account until DisableRegion turns it off (AccountId, or the
    caller's own account). ListRegions answers AccessDeniedException to a caller whose IAM
    role or user has an inline policy denying account:ListRegions. S3 refuses (403
    InvalidAccessKeyId) every request signed for a region the caller's account has disabled,
    as AWS's regional endpoints do not know the account's credentials there; requests signed
    for an enabled region (ListBuckets, GetBucketLocation from us-east-1) still answer.
  * --log-accounts: every S3 request also writes a line "moto_server: s3-account ACCOUNT
    METHOD PATH" to stderr (the account moto resolved from the request's access key), so a
    test can prove which account's credentials read each bucket: moto lets any credentials
    read any bucket by name.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
import time


def _claim_stdout() -> "object":
    """Keep a private handle on the real stdout and point fd 1 (and sys.stdout) at stderr."""
    sys.stdout.flush()
    real_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(real_fd, "w", buffering=1, encoding="utf-8")


_LOG_LOCK = threading.Lock()


def _log(msg: str) -> None:
    """One whole line per message. moto serves each request on its own thread, and
    print() writes the text and its newline in separate calls, so two requests logged at
    once came out as one garbled line (and a test reading the log missed a request)."""
    line = f"moto_server: {msg}\n"
    with _LOG_LOCK:
        sys.stderr.write(line)
        sys.stderr.flush()


def _disable_policy_enforcement() -> None:
    from moto.iam.access_control import PermissionResult
    from moto.s3 import models as s3_models

    def get_permission(self, action: str, resource: str) -> PermissionResult:  # noqa: ARG001
        return PermissionResult.NEUTRAL

    s3_models.FakeBucket.get_permission = get_permission  # type: ignore[method-assign]


def _verify_signatures_on_the_raw_path() -> None:
    from urllib.parse import quote, unquote, urlparse

    from moto.core.authorization import ActionAuthenticatorMixin

    original = ActionAuthenticatorMixin._authenticate_and_authorize_action

    def authenticate(self, iam_request_cls, resource="*"):  # type: ignore[no-untyped-def]
        raw_path = getattr(self, "raw_path", None)
        if not raw_path:
            return original(self, iam_request_cls, resource)
        decoded_uri = self.uri
        self.uri = urlparse(decoded_uri)._replace(path=quote(unquote(raw_path), safe="/")).geturl()
        try:
            return original(self, iam_request_cls, resource)
        finally:
            self.uri = decoded_uri

    ActionAuthenticatorMixin._authenticate_and_authorize_action = authenticate  # type: ignore[method-assign]


def _refuse_unknown_roles() -> None:
    import json
    import re

    from moto.iam.models import iam_backends
    from moto.sts.exceptions import STSClientError
    from moto.sts.models import STSBackend

    original = STSBackend.assume_role

    def assume_role(self, region_name, role_session_name, role_arn, policy, duration, external_id):  # type: ignore[no-untyped-def]
        match = re.fullmatch(r"arn:aws[a-z-]*:iam::(\d{12}):role/(?:.*/)?([^/]+)", role_arn or "")
        role = None
        if match:
            try:
                role = iam_backends[match.group(1)]["global"].get_role(match.group(2))
            except Exception:  # moto's NotFoundException: no such role in that account
                role = None
        if role is None:
            raise STSClientError(
                "AccessDenied",
                f"User is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
            )
        trust = role.assume_role_policy_document
        trust = json.loads(trust) if isinstance(trust, str) else trust
        wanted = [
            v
            for s in trust.get("Statement", [])
            for v in [((s.get("Condition") or {}).get("StringEquals") or {}).get("sts:ExternalId")]
            if v
        ]
        if wanted and external_id not in wanted:
            raise STSClientError("AccessDenied", f"sts:ExternalId does not match for {role_arn}")
        return original(self, region_name, role_session_name, role_arn, policy, duration, external_id)

    STSBackend.assume_role = assume_role  # type: ignore[method-assign]


# The regions every account has enabled (launched before 20 March 2019, when every later
# region became opt-in): ListRegions calls them ENABLED_BY_DEFAULT, the others ENABLED or, once
# DisableRegion turned them off, DISABLED.
_DEFAULT_REGIONS = {
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "sa-east-1",
    "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1", "ap-south-1",
    "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-southeast-1", "ap-southeast-2",
}
# Account id -> the regions DisableRegion turned off for it.
_DISABLED_REGIONS: "dict[str, set[str]]" = {}


def _opt_in_regions() -> None:
    import json

    import botocore.session
    from moto.account import urls
    from moto.account.responses import AccountResponse
    from moto.core.exceptions import JsonRESTError
    from moto.core.responses import ActionResult, EmptyResult
    from moto.iam.models import iam_backends
    from moto.s3.exceptions import S3ClientError
    from moto.s3.responses import S3Response
    from moto.sts.models import sts_backends

    class AccessDenied(JsonRESTError):
        code = 403

    class RegionNotEnabled(S3ClientError):
        code = 403

    regions = sorted(botocore.session.get_session().get_available_regions("s3"))

    def status(account: str, region: str) -> str:
        if region in _DISABLED_REGIONS.get(account, set()):
            return "DISABLED"
        return "ENABLED_BY_DEFAULT" if region in _DEFAULT_REGIONS else "ENABLED"

    def denies(response: "AccountResponse", action: str) -> bool:
        """Whether the caller's role or user has an inline policy denying `action`."""
        account = response.current_account
        _, arn, _ = sts_backends[account][response.partition].get_caller_identity(
            response.get_access_key(), response.region
        )
        iam = iam_backends[account][response.partition]
        kind, _, rest = arn.split(":", 5)[5].partition("/")
        try:
            if kind == "assumed-role":
                policies = iam.get_role(rest.split("/")[0]).policies
            elif kind == "user":
                policies = iam.get_user(rest.split("/")[-1]).policies
            else:
                return False
        except Exception:  # not an IAM identity moto knows: nothing denies
            return False
        for document in policies.values():
            document = json.loads(document) if isinstance(document, str) else document
            statements = document.get("Statement", [])
            for st in statements if isinstance(statements, list) else [statements]:
                actions = st.get("Action", [])
                actions = actions if isinstance(actions, list) else [actions]
                if st.get("Effect") == "Deny" and any(a in (action, "account:*", "*") for a in actions):
                    return True
        return False

    def target(response: "AccountResponse") -> str:
        return response._get_param("AccountId") or response.current_account

    def list_regions(self):  # type: ignore[no-untyped-def]
        if denies(self, "account:ListRegions"):
            raise AccessDenied(
                "AccessDeniedException",
                f"User is not authorized to perform: account:ListRegions (account {self.current_account})",
            )
        account = target(self)
        wanted = self._get_param("RegionOptStatusContains") or []
        found = [{"RegionName": r, "RegionOptStatus": status(account, r)} for r in regions]
        return ActionResult({"Regions": [r for r in found if not wanted or r["RegionOptStatus"] in wanted]})

    def get_region_opt_status(self):  # type: ignore[no-untyped-def]
        region = self._get_param("RegionName")
        return ActionResult({"RegionName": region, "RegionOptStatus": status(target(self), region)})

    def disable_region(self):  # type: ignore[no-untyped-def]
        _DISABLED_REGIONS.setdefault(target(self), set()).add(self._get_param("RegionName"))
        return EmptyResult()

    def enable_region(self):  # type: ignore[no-untyped-def]
        _DISABLED_REGIONS.setdefault(target(self), set()).discard(self._get_param("RegionName"))
        return EmptyResult()

    AccountResponse.list_regions = list_regions  # type: ignore[attr-defined]
    AccountResponse.get_region_opt_status = get_region_opt_status  # type: ignore[attr-defined]
    AccountResponse.disable_region = disable_region  # type: ignore[attr-defined]
    AccountResponse.enable_region = enable_region  # type: ignore[attr-defined]
    for op in ("listRegions", "getRegionOptStatus", "disableRegion", "enableRegion"):
        urls.url_paths["{0}/" + op + "$"] = AccountResponse.dispatch

    def refuse_disabled(original):  # type: ignore[no-untyped-def]
        def handler(self, request, full_url, *args, **kwargs):  # type: ignore[no-untyped-def]
            if self.region in _DISABLED_REGIONS.get(self.current_account, set()):
                raise RegionNotEnabled(
                    "InvalidAccessKeyId",
                    "The AWS Access Key Id you provided does not exist in our records.",
                )
            return original(self, request, full_url, *args, **kwargs)

        return handler

    S3Response._bucket_response = refuse_disabled(S3Response._bucket_response)  # type: ignore[method-assign]
    S3Response._key_response = refuse_disabled(S3Response._key_response)  # type: ignore[method-assign]


def _log_s3_accounts() -> None:
    from moto.s3.responses import S3Response

    original = S3Response.setup_class

    def setup_class(self, request, full_url, headers, *args, **kwargs):  # type: ignore[no-untyped-def]
        result = original(self, request, full_url, headers, *args, **kwargs)
        _log(f"s3-account {self.current_account} {request.method} {self.path}")
        return result

    S3Response.setup_class = setup_class  # type: ignore[method-assign]


def _issue_certificates(directory: str) -> tuple[str, str]:
    """Writes a throwaway CA (ca.pem) and a server certificate it signed; returns the
    server's (certificate, key) paths."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    valid = (now - datetime.timedelta(hours=1), now + datetime.timedelta(days=1))

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("s3audit test CA"))
        .issuer_name(name("s3audit test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=True,
                          crl_sign=True, encipher_only=False, decipher_only=False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    os.makedirs(directory, exist_ok=True)
    paths = {n: os.path.join(directory, n) for n in ("ca.pem", "server.pem", "server.key")}
    with open(paths["ca.pem"], "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths["server.pem"], "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(paths["server.key"], "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return paths["server.pem"], paths["server.key"]


def _serve_tls(host: str, port: int, cert: str, key: str) -> tuple[str, int]:
    """moto's app behind werkzeug's threaded server with TLS (ThreadedMotoServer has no
    TLS option); returns the bound address."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    app = DomainDispatcherApplication(create_backend_app)
    server = make_server(host, port, app, threaded=True, ssl_context=(cert, key))
    threading.Thread(target=server.serve_forever, name="moto-tls", daemon=True).start()
    bound_host, bound_port = server.server_address[:2]
    return str(bound_host), bound_port


def _watch_stdin() -> None:
    try:
        while True:
            if not sys.stdin.buffer.read1(65536):
                break
    except Exception:  # a closed or broken stdin means the parent is gone too
        pass
    _log("stdin closed; exiting")
    os._exit(0)


def _wait_accepting(host: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one (default)")
    parser.add_argument(
        "--enforce-policies",
        action="store_true",
        help="keep moto's (context-free) bucket-policy enforcement on object calls",
    )
    parser.add_argument(
        "--tls",
        metavar="DIR",
        help="serve HTTPS with a certificate from a throwaway CA written to DIR/ca.pem",
    )
    parser.add_argument(
        "--log-accounts",
        action="store_true",
        help="log the account moto resolved for every S3 request (stderr)",
    )
    parser.add_argument(
        "--exit-on-stdin-eof",
        action="store_true",
        help="exit when stdin reaches EOF (the parent process went away)",
    )
    args = parser.parse_args(argv)

    ready_out = _claim_stdout()

    def on_signal(signum: int, _frame: object) -> None:
        _log(f"received signal {signum}; exiting")
        # The server thread is a daemon: leaving the interpreter stops it.
        os._exit(0)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    if args.exit_on_stdin_eof:
        threading.Thread(target=_watch_stdin, name="stdin-watch", daemon=True).start()

    # Dummy credentials so nothing in-process ever looks for real ones.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

    import moto
    from moto.server import ThreadedMotoServer

    if args.enforce_policies:
        _log("bucket-policy enforcement on object calls: ON (moto default)")
    else:
        _disable_policy_enforcement()
        _log("bucket-policy enforcement on object calls: OFF (FakeBucket.get_permission -> NEUTRAL)")

    _verify_signatures_on_the_raw_path()
    _refuse_unknown_roles()
    _opt_in_regions()
    if args.log_accounts:
        _log_s3_accounts()
    if args.tls:
        host, port = _serve_tls(args.host, args.port, *_issue_certificates(args.tls))
        scheme = "https"
    else:
        server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        scheme = "http"
    _wait_accepting(host, port)

    url_host = f"[{host}]" if ":" in host else host
    _log(f"moto {moto.__version__} serving S3, KMS and STS on {scheme}://{url_host}:{port}")
    ready_out.write(f"MOTO_READY {scheme}://{url_host}:{port}\n")
    ready_out.flush()

    while True:
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main())
