#!/usr/bin/env python3
"""The baseline s3audit is measured against: a boto3 thread-pool scanner.

It follows the approach of Cloud Custodian's `encrypt-keys` (and of most hand-rolled audit
scripts): list each bucket with a paginator and HEAD every object from a
ThreadPoolExecutor, counting the server-side-encryption header. Same endpoint, same
concurrency, same work as `s3audit scan` — only the implementation differs.

Prints one JSON line: {"objects": N, "by_mode": {...}, "errors": N, "seconds": S}.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import botocore.config
import botocore.exceptions


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--endpoint", required=True)
    p.add_argument("--concurrency", type=int, default=128)
    p.add_argument("--bucket", action="append", help="only these buckets (default: all)")
    args = p.parse_args()

    cfg = botocore.config.Config(
        max_pool_connections=args.concurrency,
        retries={"mode": "adaptive", "max_attempts": 8},
        s3={"addressing_style": "path"},
    )
    s3 = boto3.client(
        "s3",
        endpoint_url=args.endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=cfg,
    )
    started = time.monotonic()
    buckets = args.bucket or [b["Name"] for b in s3.list_buckets().get("Buckets", [])]
    modes: collections.Counter[str] = collections.Counter()
    errors = 0

    def head(bucket: str, key: str) -> str:
        try:
            r = s3.head_object(Bucket=bucket, Key=key)
            return r.get("ServerSideEncryption", "none")
        except botocore.exceptions.ClientError as e:
            code = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            return "sse_c" if code == 400 else "error"

    with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        for bucket in buckets:
            pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            futures = []
            for page in pages:
                for obj in page.get("Contents", []):
                    futures.append(pool.submit(head, bucket, obj["Key"]))
                # Bound memory like a careful script would: drain each page's HEADs.
                for f in futures:
                    mode = f.result()
                    modes[mode] += 1
                    if mode == "error":
                        errors += 1
                futures.clear()
    print(
        json.dumps(
            {
                "objects": sum(modes.values()),
                "by_mode": dict(modes),
                "errors": errors,
                "seconds": round(time.monotonic() - started, 3),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
