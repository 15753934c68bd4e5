#!/usr/bin/env python3
"""Seed s3audit's demo estate into a running moto server (see scripts/moto_server.py).

Usage:
    .venv/bin/python scripts/seed_demo.py --endpoint http://127.0.0.1:PORT
                                          [--expected tests/fixtures/demo_expected.json]
                                          [--no-check] [--manifest PATH]

Builds 14 buckets named demo-* (names are a contract with tests/fixtures/demo_expected.json),
each showing one encryption posture, with their KMS keys and a few objects. Every step is
read back from moto (GetBucketEncryption, DescribeKey, GetKeyRotationStatus, HeadObject)
and the regions and object counts are compared with the expectations file; a mismatch
exits 1. Progress and a summary go to stderr; stdout stays empty.

Re-running against the same server is safe: existing buckets keep their objects, keys are
found again through their alias/s3audit-demo-* aliases, and configurations are re-applied.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

HOME = "us-east-1"
REPO = Path(__file__).resolve().parent.parent
DEFAULT_EXPECTED = REPO / "tests" / "fixtures" / "demo_expected.json"
MISSING_KEY_ID = "0badc0de-0000-4000-8000-00000000dead"
KEY_ALIAS_PREFIX = "alias/s3audit-demo-"


def log(msg: str) -> None:
    print(f"seed: {msg}", file=sys.stderr, flush=True)


class SeedError(Exception):
    pass


def check(cond: bool, what: str) -> None:
    if not cond:
        raise SeedError(what)


# --------------------------------------------------------------------------- the estate


@dataclass
class KeySpec:
    name: str  # alias suffix: alias/s3audit-demo-<name>
    region: str = HOME
    rotation: bool = True
    final_state: str = "Enabled"  # Enabled | Disabled | PendingDeletion
    extra_alias: Optional[str] = None


@dataclass
class Obj:
    key: str
    body: bytes
    sse: Optional[str] = None  # explicit x-amz-server-side-encryption header
    sse_key: bool = False  # also send the bucket's key ARN explicitly
    bucket_key: Optional[bool] = None  # explicit x-amz-server-side-encryption-bucket-key-enabled
    before_default: bool = False  # written before the default encryption is configured


@dataclass
class BucketSpec:
    name: str
    region: str = HOME
    algorithm: Optional[str] = None  # AES256 | aws:kms | aws:kms:dsse | None
    key: Optional[str] = None  # KeySpec.name
    key_ref: str = "arn"  # arn | alias (the KeySpec's extra_alias) | literal:<KMSMasterKeyID>
    bucket_key: Optional[bool] = None  # BucketKeyEnabled in the default rule
    policy: Optional[str] = None  # tls+kms | tls-half
    versioned: bool = False
    objects: list[Obj] = field(default_factory=list)


def _objs(*names: str, **kw: Any) -> list[Obj]:
    return [Obj(n, f"demo object {n}\n".encode(), **kw) for n in names]


KEYS = [
    KeySpec("good"),
    KeySpec("no-bucket-key"),
    KeySpec("rotation-off", rotation=False),
    KeySpec("disabled", final_state="Disabled"),
    KeySpec("pending-deletion", final_state="PendingDeletion"),
    KeySpec("app", extra_alias="alias/demo-app"),
    KeySpec("cross-region"),
    KeySpec("eu", region="eu-west-1"),
    KeySpec("dsse"),
]

BUCKETS = [
    BucketSpec(
        "demo-no-encryption",
        objects=_objs("readme.txt", "data/2024/export.csv", "reports/Q1 summary (final).txt")
        + _objs("archive/ünïcode-ключ.bin", sse="AES256"),
    ),
    BucketSpec(
        "demo-sse-s3",
        algorithm="AES256",
        objects=_objs("legacy/before-default.txt", before_default=True)
        + _objs("app/config.json", "app/logo.png", "app/data.bin"),
    ),
    BucketSpec(
        "demo-kms-aws-managed",
        algorithm="aws:kms",
        key_ref="literal:",
        bucket_key=False,
        objects=_objs("a.txt", "b.txt", "c/d.txt"),
    ),
    BucketSpec(
        "demo-kms-aws-alias",
        algorithm="aws:kms",
        key_ref="literal:alias/aws/s3",
        bucket_key=True,
        objects=_objs("a.txt", "b.txt", "c/d.txt"),
    ),
    BucketSpec(
        "demo-kms-good",
        algorithm="aws:kms",
        key="good",
        bucket_key=True,
        policy="tls+kms",
        versioned=True,
        objects=_objs("legacy/customers.csv", before_default=True)
        + _objs("legacy/customers.csv", "invoices/2025-01.pdf", "index.html")
        + _objs("invoices/2025-02.pdf", sse="aws:kms", sse_key=True, bucket_key=True),
    ),
    BucketSpec(
        "demo-kms-no-bucket-key",
        algorithm="aws:kms",
        key="no-bucket-key",
        bucket_key=False,
        objects=_objs("exports/a.csv", "exports/b.csv", "exports/c.csv")
        + _objs("exports/aes256.csv", sse="AES256"),
    ),
    BucketSpec(
        "demo-kms-rotation-off",
        algorithm="aws:kms",
        key="rotation-off",
        bucket_key=True,
        objects=_objs("a.txt", "b.txt", "c.txt"),
    ),
    BucketSpec(
        "demo-kms-disabled-key",
        algorithm="aws:kms",
        key="disabled",
        bucket_key=True,
        objects=_objs("a.txt", "b.txt", "c.txt"),
    ),
    BucketSpec(
        "demo-kms-pending-deletion",
        algorithm="aws:kms",
        key="pending-deletion",
        bucket_key=True,
        objects=_objs("a.txt", "b.txt", "c.txt"),
    ),
    BucketSpec(
        "demo-kms-by-alias",
        algorithm="aws:kms",
        key="app",
        key_ref="alias",
        bucket_key=True,
        objects=_objs("app/1.json", "app/2.json", "app/3.json"),
    ),
    BucketSpec(
        "demo-eu-cross-region",
        region="eu-west-1",
        algorithm="aws:kms",
        key="cross-region",
        bucket_key=True,
        objects=_objs("a.txt", "b.txt", "c.txt"),
    ),
    BucketSpec(
        "demo-eu-same-region",
        region="eu-west-1",
        algorithm="aws:kms",
        key="eu",
        bucket_key=True,
        policy="tls-half",
        objects=_objs("a.txt", "b.txt", "c.txt"),
    ),
    BucketSpec(
        "demo-dsse",
        algorithm="aws:kms:dsse",
        key="dsse",
        objects=_objs("a.bin", "b.bin", "c.bin"),
    ),
    BucketSpec(
        "demo-kms-missing-key",
        algorithm="aws:kms",
        key_ref="literal:missing",
        bucket_key=True,
        objects=_objs("a.txt", "b.txt", "c.txt"),
    ),
]


def policy_document(kind: str, bucket: str) -> str:
    arn = f"arn:aws:s3:::{bucket}"
    if kind == "tls+kms":
        statements = [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [arn, f"{arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Sid": "DenyUploadsWithoutSseKms",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"{arn}/*",
                "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}},
            },
        ]
    elif kind == "tls-half":
        statements = [
            {
                "Sid": "DenyInsecureGet",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"{arn}/*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ]
    else:
        raise ValueError(kind)
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


# --------------------------------------------------------------------------- seeding


class Seeder:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self._clients: dict[tuple[str, str], Any] = {}
        self.account = self.client("sts").get_caller_identity()["Account"]
        self.key_arns: dict[str, str] = {}
        self.key_ids: dict[str, str] = {}  # moto's DisableKey & co. accept bare key ids only
        self.created: set[str] = set()

    def client(self, service: str, region: str = HOME) -> Any:
        k = (service, region)
        if k not in self._clients:
            self._clients[k] = boto3.client(
                service,
                endpoint_url=self.endpoint,
                region_name=region,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
            )
        return self._clients[k]

    # ---- keys

    def ensure_key(self, spec: KeySpec) -> str:
        kms = self.client("kms", spec.region)
        alias = KEY_ALIAS_PREFIX + spec.name
        try:
            meta = kms.describe_key(KeyId=alias)["KeyMetadata"]
        except ClientError as e:
            if e.response["Error"]["Code"] != "NotFoundException":
                raise
            meta = kms.create_key(
                Description=f"s3audit demo key '{spec.name}'",
                KeyUsage="ENCRYPT_DECRYPT",
                KeySpec="SYMMETRIC_DEFAULT",
                Tags=[{"TagKey": "purpose", "TagValue": "s3audit-demo"}],
            )["KeyMetadata"]
            kms.create_alias(AliasName=alias, TargetKeyId=meta["KeyId"])
            if spec.extra_alias:
                kms.create_alias(AliasName=spec.extra_alias, TargetKeyId=meta["KeyId"])
            if spec.rotation:
                kms.enable_key_rotation(KeyId=meta["KeyId"])
        self.key_arns[spec.name] = meta["Arn"]
        self.key_ids[spec.name] = meta["KeyId"]
        return meta["Arn"]

    def finish_key(self, spec: KeySpec) -> None:
        """Move a key to its final state (after the objects that use it were written)."""
        kms = self.client("kms", spec.region)
        key_id = self.key_ids[spec.name]
        state = kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"]
        if state == spec.final_state:
            return
        if spec.final_state == "Disabled":
            kms.disable_key(KeyId=key_id)
        elif spec.final_state == "PendingDeletion":
            kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)

    # ---- buckets

    def key_id_for(self, spec: BucketSpec) -> Optional[str]:
        if spec.key_ref.startswith("literal:"):
            literal = spec.key_ref[len("literal:") :]
            if literal == "missing":
                return f"arn:aws:kms:{HOME}:{self.account}:key/{MISSING_KEY_ID}"
            return literal or None
        if spec.key_ref == "alias":
            ks = next(k for k in KEYS if k.name == spec.key)
            return ks.extra_alias
        return self.key_arns[spec.key] if spec.key else None

    def encryption_rule(self, spec: BucketSpec) -> Optional[dict[str, Any]]:
        if spec.algorithm is None:
            return None
        default: dict[str, Any] = {"SSEAlgorithm": spec.algorithm}
        key_id = self.key_id_for(spec)
        if key_id:
            default["KMSMasterKeyID"] = key_id
        rule: dict[str, Any] = {"ApplyServerSideEncryptionByDefault": default}
        if spec.bucket_key is not None:
            rule["BucketKeyEnabled"] = spec.bucket_key
        return rule

    def put_object(self, spec: BucketSpec, obj: Obj) -> None:
        s3 = self.client("s3", spec.region)
        args: dict[str, Any] = {"Bucket": spec.name, "Key": obj.key, "Body": obj.body}
        if obj.sse:
            args["ServerSideEncryption"] = obj.sse
        if obj.sse_key:
            args["SSEKMSKeyId"] = self.key_id_for(spec)
        if obj.bucket_key is not None:
            args["BucketKeyEnabled"] = obj.bucket_key
        s3.put_object(**args)

    def ensure_bucket(self, spec: BucketSpec) -> None:
        s3 = self.client("s3", spec.region)
        try:
            s3.head_bucket(Bucket=spec.name)
            fresh = False
        except ClientError as e:
            if e.response["Error"]["Code"] not in ("404", "NoSuchBucket", "NotFound"):
                raise
            args: dict[str, Any] = {"Bucket": spec.name}
            if spec.region != "us-east-1":
                args["CreateBucketConfiguration"] = {"LocationConstraint": spec.region}
            s3.create_bucket(**args)
            fresh = True
            self.created.add(spec.name)

        if spec.versioned:
            s3.put_bucket_versioning(
                Bucket=spec.name, VersioningConfiguration={"Status": "Enabled"}
            )

        if fresh:
            # Some objects predate the default-encryption configuration.
            for obj in spec.objects:
                if obj.before_default:
                    self.put_object(spec, obj)

        rule = self.encryption_rule(spec)
        if rule is None:
            # moto 5.1.22 gives new buckets no default encryption (AWS gives SSE-S3); make
            # sure, should a later moto add one.
            s3.delete_bucket_encryption(Bucket=spec.name)
        else:
            s3.put_bucket_encryption(
                Bucket=spec.name, ServerSideEncryptionConfiguration={"Rules": [rule]}
            )

        if fresh:
            for obj in spec.objects:
                if not obj.before_default:
                    self.put_object(spec, obj)

        # Policies last: with moto's enforcement on (--enforce-policies) they would
        # otherwise refuse the uploads above.
        if spec.policy:
            s3.put_bucket_policy(Bucket=spec.name, Policy=policy_document(spec.policy, spec.name))
        else:
            s3.delete_bucket_policy(Bucket=spec.name)

    def seed(self) -> None:
        for ks in KEYS:
            self.ensure_key(ks)
        for bs in BUCKETS:
            self.ensure_bucket(bs)
            log(f"{bs.name}: {'created' if bs.name in self.created else 'exists, objects kept'}")
        for ks in KEYS:
            self.finish_key(ks)


# --------------------------------------------------------------------------- verification


def sse_class(head: dict[str, Any]) -> str:
    if head.get("SSECustomerAlgorithm"):
        return "sse_c"
    return {
        None: "none",
        "AES256": "sse_s3",
        "aws:kms": "sse_kms",
        "aws:kms:dsse": "dsse_kms",
        "aws:fsx": "sse_fsx",
    }.get(head.get("ServerSideEncryption"), "unknown")


def head_or_none(s3: Any, **kw: Any) -> Optional[dict[str, Any]]:
    """HeadObject, or None when it is refused (403: e.g. moto run with --enforce-policies)."""
    try:
        return s3.head_object(**kw)
    except ClientError as e:
        if e.response["Error"]["Code"] in ("403", "AccessDenied", "Forbidden"):
            return None
        raise


def empty_counts() -> dict[str, int]:
    return dict.fromkeys(
        ("total", "none", "sse_s3", "sse_kms", "dsse_kms", "sse_c", "sse_fsx", "unknown", "unreadable"),
        0,
    )


def verify(seeder: Seeder, expected: Optional[dict[str, Any]]) -> dict[str, Any]:
    """Read the estate back and check it; returns a manifest of what moto reports."""
    manifest: dict[str, Any] = {"endpoint": seeder.endpoint, "account": seeder.account, "buckets": {}, "keys": {}}
    problems: list[str] = []

    for ks in KEYS:
        kms = seeder.client("kms", ks.region)
        arn = seeder.key_arns[ks.name]
        meta = kms.describe_key(KeyId=arn)["KeyMetadata"]
        rotation = kms.get_key_rotation_status(KeyId=arn)["KeyRotationEnabled"]
        manifest["keys"][ks.name] = {
            "arn": arn,
            "state": meta["KeyState"],
            "manager": meta["KeyManager"],
            "rotation": rotation,
            "aliases": [KEY_ALIAS_PREFIX + ks.name] + ([ks.extra_alias] if ks.extra_alias else []),
        }
        if meta["KeyState"] != ks.final_state:
            problems.append(f"key {ks.name}: state {meta['KeyState']}, wanted {ks.final_state}")
        if rotation != ks.rotation:
            problems.append(f"key {ks.name}: rotation {rotation}, wanted {ks.rotation}")
        if ks.extra_alias:
            via_alias = kms.describe_key(KeyId=ks.extra_alias)["KeyMetadata"]["Arn"]
            if via_alias != arn:
                problems.append(f"key {ks.name}: {ks.extra_alias} points at {via_alias}")

    missing = seeder.key_id_for(next(b for b in BUCKETS if b.name == "demo-kms-missing-key"))
    try:
        seeder.client("kms").describe_key(KeyId=missing)
        problems.append(f"{missing} exists but should not")
    except ClientError as e:
        if e.response["Error"]["Code"] != "NotFoundException":
            raise

    for bs in BUCKETS:
        s3 = seeder.client("s3", bs.region)
        region = s3.get_bucket_location(Bucket=bs.name)["LocationConstraint"] or "us-east-1"
        try:
            rules = s3.get_bucket_encryption(Bucket=bs.name)["ServerSideEncryptionConfiguration"]["Rules"]
        except ClientError as e:
            if e.response["Error"]["Code"] != "ServerSideEncryptionConfigurationNotFoundError":
                raise
            rules = []
        want = seeder.encryption_rule(bs)
        if want is None:
            if rules:
                problems.append(f"{bs.name}: unexpected default encryption {rules}")
        else:
            got = rules[0]["ApplyServerSideEncryptionByDefault"] if rules else None
            if got != want["ApplyServerSideEncryptionByDefault"]:
                problems.append(f"{bs.name}: default encryption {got}, wanted {want}")
            if bs.bucket_key is not None and rules and rules[0].get("BucketKeyEnabled") != bs.bucket_key:
                problems.append(f"{bs.name}: BucketKeyEnabled {rules[0].get('BucketKeyEnabled')}")
        try:
            policy = json.loads(s3.get_bucket_policy(Bucket=bs.name)["Policy"])
        except ClientError as e:
            if e.response["Error"]["Code"] != "NoSuchBucketPolicy":
                raise
            policy = None
        if (policy is None) != (bs.policy is None):
            problems.append(f"{bs.name}: policy present={policy is not None}, wanted {bs.policy}")
        versioning = s3.get_bucket_versioning(Bucket=bs.name).get("Status")
        if (versioning == "Enabled") != bs.versioned:
            problems.append(f"{bs.name}: versioning {versioning}")

        current = empty_counts()
        objects = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bs.name):
            for item in page.get("Contents", []):
                head = head_or_none(s3, Bucket=bs.name, Key=item["Key"])
                cls = sse_class(head) if head is not None else "unreadable"
                head = head or {}
                current["total"] += 1
                current[cls] = current.get(cls, 0) + 1
                objects.append(
                    {
                        "key": item["Key"],
                        "sse": head.get("ServerSideEncryption"),
                        "kms_key_id": head.get("SSEKMSKeyId"),
                        "bucket_key": head.get("BucketKeyEnabled"),
                    }
                )
        entry: dict[str, Any] = {
            "region": region,
            "default_encryption": rules,
            "policy": policy is not None,
            "versioning": versioning,
            "objects": current,
            "object_list": objects,
        }
        if bs.versioned:
            noncurrent = empty_counts()
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=bs.name):
                for v in page.get("Versions", []):
                    if v["IsLatest"]:
                        continue
                    head = head_or_none(s3, Bucket=bs.name, Key=v["Key"], VersionId=v["VersionId"])
                    cls = sse_class(head) if head is not None else "unreadable"
                    noncurrent["total"] += 1
                    noncurrent[cls] = noncurrent.get(cls, 0) + 1
            entry["noncurrent"] = noncurrent
        manifest["buckets"][bs.name] = entry

        if expected is not None:
            exp = expected["buckets"].get(bs.name)
            if exp is None:
                problems.append(f"{bs.name}: missing from the expectations file")
                continue
            if exp["region"] != region:
                problems.append(f"{bs.name}: region {region}, expected {exp['region']}")
            if exp["objects"] != current:
                problems.append(f"{bs.name}: objects {current}, expected {exp['objects']}")
            if exp.get("noncurrent") != entry.get("noncurrent"):
                problems.append(
                    f"{bs.name}: noncurrent {entry.get('noncurrent')}, expected {exp.get('noncurrent')}"
                )

    if expected is not None:
        extra = set(expected["buckets"]) - {b.name for b in BUCKETS}
        if extra:
            problems.append(f"expectations name buckets the seeder does not build: {sorted(extra)}")

    if problems:
        raise SeedError("verification failed:\n  " + "\n  ".join(problems))
    return manifest


def summary(manifest: dict[str, Any]) -> None:
    log(f"{len(manifest['buckets'])} buckets, {len(manifest['keys'])} customer keys, account {manifest['account']}")
    for name, b in manifest["buckets"].items():
        rule = b["default_encryption"][0] if b["default_encryption"] else None
        if rule:
            d = rule["ApplyServerSideEncryptionByDefault"]
            enc = d["SSEAlgorithm"] + (f" key={d['KMSMasterKeyID']}" if d.get("KMSMasterKeyID") else "")
            enc += f" bucket_key={rule.get('BucketKeyEnabled')}"
        else:
            enc = "no default encryption"
        counts = ", ".join(f"{k}={v}" for k, v in b["objects"].items() if v and k != "total")
        extra = f"; noncurrent: {b['noncurrent']['total']}" if "noncurrent" in b else ""
        log(f"  {name:<27} {b['region']:<10} {enc}")
        log(f"  {'':<27} {'':<10} policy={'yes' if b['policy'] else 'no'} objects={b['objects']['total']} ({counts}){extra}")
    for name, k in manifest["keys"].items():
        log(f"  key {name:<17} {k['state']:<16} rotation={k['rotation']} {k['arn']}")


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description="Seed s3audit's demo estate into a moto server.")
    p.add_argument("--endpoint", required=True, help="moto endpoint, e.g. http://127.0.0.1:5000")
    p.add_argument(
        "--expected",
        type=Path,
        default=DEFAULT_EXPECTED,
        help="expectations file to check regions and object counts against (default: %(default)s)",
    )
    p.add_argument("--no-check", action="store_true", help="skip the comparison with --expected")
    p.add_argument("--manifest", type=Path, help="write what moto reports (keys, buckets, objects) as JSON here")
    args = p.parse_args(argv)

    expected = None
    if not args.no_check:
        expected = json.loads(args.expected.read_text(encoding="utf-8"))

    try:
        seeder = Seeder(args.endpoint)
        log(f"seeding {len(BUCKETS)} buckets and {len(KEYS)} keys at {args.endpoint}")
        seeder.seed()
        manifest = verify(seeder, expected)
    except SeedError as e:
        log(f"error: {e}")
        return 1
    except Exception as e:  # boto3/botocore errors: one clear line, not a traceback
        log(f"error: {type(e).__name__}: {e}")
        return 1
    if args.manifest:
        args.manifest.parent.mkdir(parents=True, exist_ok=True)
        args.manifest.write_text(json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    summary(manifest)
    log("demo estate ready" + (" and matches " + str(args.expected) if expected is not None else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
