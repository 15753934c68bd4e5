#!/usr/bin/env python3
"""Against an independent S3 server (issue #14): s3audit and the boto3 thread-pool scanner,
end to end at equal concurrency, on s3s-fs (the filesystem-backed S3 server of the s3s
project, from crates.io) serving one bucket of tens of thousands of objects under dozens of
uneven prefixes. Unlike fakes3 it is not ours: its listing and HEAD are whatever a real
S3-compatible store of that kind does.

Run through `scripts/bench-s3s-fs` (it installs s3s-fs, builds s3audit and the venv first).
Prints wall time, objects/s, CPU per object and peak RSS for each, and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scan_bench import REPO, measure  # noqa: E402

# The boto3 scanner signs as testing/testing, as against fakes3 and moto.
ACCESS_KEY, SECRET_KEY = "testing", "testing"


def populate(root: Path, objects: int, prefixes: int) -> None:
    """`bench/pNN/oNNNNNN` files, prefix i holding a share proportional to i + 1."""
    bucket = root / "bench"
    weights = [i + 1 for i in range(prefixes)]
    total = sum(weights)
    counts = [objects * w // total for w in weights]
    counts[-1] += objects - sum(counts)
    for i, n in enumerate(counts):
        d = bucket / f"p{i:02}"
        d.mkdir(parents=True, exist_ok=True)
        for j in range(n):
            (d / f"o{j:06}").write_bytes(b"x")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(binary: str, root: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--host", "127.0.0.1", "--port", str(port),
         "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY, str(root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit("bench: s3s-fs did not start")


def main() -> int:
    p = argparse.ArgumentParser(description="s3audit vs boto3 on s3s-fs")
    p.add_argument("--s3audit", default=str(REPO / "target/release/s3audit"))
    p.add_argument("--s3s-fs", dest="s3s_fs", default=str(REPO / "target/bench-tools/bin/s3s-fs"))
    p.add_argument("--objects", type=int, default=40_000)
    p.add_argument("--prefixes", type=int, default=40)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--s3audit-arg", dest="s3audit_args", action="append", default=[],
                   help="one more argument for s3audit scan (repeat: --s3audit-arg=--list-parallelism "
                        "--s3audit-arg=8)")
    p.add_argument("--skip-boto3", action="store_true", help="time s3audit alone")
    a = p.parse_args()

    env = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY,
               AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true")
    for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        env.pop(var, None)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "fs"
        started = time.monotonic()
        populate(root, a.objects, a.prefixes)
        print(f"s3s-fs: {a.objects:,} objects under {a.prefixes} uneven prefixes "
              f"(written in {time.monotonic() - started:.1f} s); {a.concurrency} in flight; "
              f"{os.cpu_count()} cores", flush=True)
        report = Path(tmp) / "report.json"
        server, endpoint = start_server(a.s3s_fs, root)
        try:
            runs = {
                "s3audit": [a.s3audit, "scan", "--endpoint-url", endpoint, "--bucket", "bench",
                            "--format", "json", "--output", str(report),
                            "--concurrency", str(a.concurrency), *a.s3audit_args],
                "boto3 thread pool": [sys.executable, str(REPO / "benches/boto3_scanner.py"),
                                      "--endpoint", endpoint, "--concurrency", str(a.concurrency),
                                      "--bucket", "bench"],
            }
            print(f"{'run':<20} {'objects':>9} {'wall s':>7} {'objects/s':>10} "
                  f"{'CPU ms/1k':>10} {'peak MiB':>9}")
            results = {}
            if a.skip_boto3:
                del runs["boto3 thread pool"]
            for name, cmd in runs.items():
                r = measure(cmd, env)
                if name == "s3audit":
                    # Settings s3s-fs does not implement make the scan incomplete (3);
                    # the object counts are what is compared.
                    if r["code"] not in (0, 1, 3) or not report.exists():
                        sys.exit(f"bench: s3audit exited {r['code']}: {r['stderr'][-2000:]}")
                    data = json.loads(report.read_text())
                    counts = next(b for b in data["buckets"] if b["name"] == "bench")["objects"]
                    objects, errors = counts["total"], counts["unreadable"]
                else:
                    if r["code"] != 0:
                        sys.exit(f"bench: boto3 exited {r['code']}: {r['stderr'][-2000:]}")
                    out = json.loads(r["stdout"].strip().splitlines()[-1])
                    objects, errors = out["objects"], out["errors"]
                if objects != a.objects or errors:
                    sys.exit(f"bench: {name} read {objects} objects ({errors} errors), not {a.objects}")
                results[name] = r
                print(f"{name:<20} {objects:>9,} {r['wall']:>7.1f} {objects / r['wall']:>10,.0f} "
                      f"{1e6 * r['cpu'] / objects:>10.0f} {r['rss_mib']:>9.1f}", flush=True)
            if "boto3 thread pool" in results:
                ratio = results["boto3 thread pool"]["wall"] / results["s3audit"]["wall"]
                print(f"s3audit is {ratio:.1f}x the boto3 scanner end to end (target: >= 8x)")
        finally:
            server.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
