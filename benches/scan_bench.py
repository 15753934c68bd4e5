#!/usr/bin/env python3
"""Object-scan benchmark: s3audit vs a boto3 thread-pool scanner, same fake S3, same
concurrency, and s3audit's peak memory at growing object counts.

Run through `scripts/bench` (it builds release binaries and the venv first). Prints, for
each run: objects, wall seconds, objects/s, CPU seconds (user+sys) and peak RSS, measured
from the child's rusage (wait4), so the numbers cover exactly the scanner process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def start_fakes3(fakes3: Path, objects: int, latency_ms: int, jitter_ms: int) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [
            str(fakes3), "--port", "0", "--seed", "7",
            "--bucket", f"bench:{objects}",
            "--mix", "none=1,sse_s3=2,sse_kms=6,dsse_kms=1",
            "--latency-ms", str(latency_ms), "--jitter-ms", str(jitter_ms),
            "--exit-on-stdin-eof",
        ],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    line = proc.stdout.readline().strip()
    if not line.startswith("FAKES3_READY "):
        proc.kill()
        sys.exit(f"bench: fakes3 did not start: {line!r}")
    return proc, line.split(" ", 1)[1]


def measure(cmd: list[str], env: dict[str, str]) -> dict:
    """Runs cmd, returning wall/CPU seconds, peak RSS (MiB) and its stdout."""
    out = tempfile.TemporaryFile()
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    stderr = proc.stderr.read().decode(errors="replace")
    code = os.waitstatus_to_exitcode(status)
    out.seek(0)
    return {
        "code": code,
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mib": usage.ru_maxrss / 1024,
        "stdout": out.read().decode(errors="replace"),
        "stderr": stderr,
    }


def run_s3audit(s3audit: Path, endpoint: str, concurrency: int, env: dict) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        r = measure(
            [str(s3audit), "scan", "--endpoint-url", endpoint, "--format", "json",
             "--output", str(report), "--concurrency", str(concurrency), "--object-buckets", "1"],
            env,
        )
        if r["code"] not in (0, 1):
            sys.exit(f"bench: s3audit exited {r['code']}: {r['stderr'][-2000:]}")
        data = json.loads(report.read_text())
    counts = next(b for b in data["buckets"] if b["name"] == "bench")["objects"]
    r["objects"] = counts["total"]
    r["unreadable"] = counts["unreadable"]
    return r


def run_boto3(python: str, endpoint: str, concurrency: int, env: dict) -> dict:
    r = measure(
        [python, str(REPO / "benches/boto3_scanner.py"), "--endpoint", endpoint,
         "--concurrency", str(concurrency), "--bucket", "bench"],
        env,
    )
    if r["code"] != 0:
        sys.exit(f"bench: boto3 scanner exited {r['code']}: {r['stderr'][-2000:]}")
    result = json.loads(r["stdout"].strip().splitlines()[-1])
    r["objects"] = result["objects"]
    r["unreadable"] = result["errors"]
    return r


def row(name: str, r: dict) -> str:
    rate = r["objects"] / r["wall"] if r["wall"] else 0
    return (f"{name:<34} {r['objects']:>10,} {r['wall']:>8.1f} {rate:>11,.0f} "
            f"{r['cpu']:>8.1f} {r['rss_mib']:>9.1f} {r['unreadable']:>10,}")


def main() -> int:
    p = argparse.ArgumentParser(description="s3audit object-scan benchmark")
    p.add_argument("--s3audit", default=str(REPO / "target/release/s3audit"))
    p.add_argument("--fakes3", default=str(REPO / "target/release/fakes3"))
    p.add_argument("--objects", type=int, default=200_000, help="objects for the s3audit throughput run")
    p.add_argument("--boto3-objects", type=int, default=20_000, help="objects for the (slow) boto3 run")
    p.add_argument("--latency-ms", type=int, default=20)
    p.add_argument("--jitter-ms", type=int, default=0)
    p.add_argument("--concurrency", default="128,256",
                   help="comma-separated HEADs in flight (threads for boto3); each level runs both scanners")
    p.add_argument("--memory-points", default="100000,1000000",
                   help="object counts for the memory-growth runs (no latency)")
    p.add_argument("--skip-boto3", action="store_true")
    args = p.parse_args()

    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true")
    for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        env.pop(var, None)

    levels = [int(x) for x in args.concurrency.split(",") if x]
    header = f"{'run':<34} {'objects':>10} {'wall s':>8} {'objects/s':>11} {'CPU s':>8} {'peak MiB':>9} {'unreadable':>10}"
    print(f"latency {args.latency_ms} ms (+/- {args.jitter_ms}), concurrency {levels}, "
          f"{os.cpu_count()} cores", flush=True)
    print(header)
    results = {}

    for c in levels:
        fake, endpoint = start_fakes3(Path(args.fakes3), args.objects, args.latency_ms, args.jitter_ms)
        try:
            results[f"s3audit-{c}"] = run_s3audit(Path(args.s3audit), endpoint, c, env)
            print(row(f"s3audit ({c} in flight)", results[f"s3audit-{c}"]), flush=True)
        finally:
            fake.kill()
        if not args.skip_boto3:
            fake, endpoint = start_fakes3(Path(args.fakes3), args.boto3_objects, args.latency_ms, args.jitter_ms)
            try:
                results[f"boto3-{c}"] = run_boto3(sys.executable, endpoint, c, env)
                print(row(f"boto3 thread pool ({c} threads)", results[f"boto3-{c}"]), flush=True)
            finally:
                fake.kill()

    for n in [int(x) for x in args.memory_points.split(",") if x]:
        fake, endpoint = start_fakes3(Path(args.fakes3), n, 0, 0)
        try:
            r = run_s3audit(Path(args.s3audit), endpoint, levels[0], env)
            results[f"memory-{n}"] = r
            print(row(f"s3audit, no latency, {n:,} objects", r), flush=True)
        finally:
            fake.kill()

    print()
    for c in levels:
        s = results[f"s3audit-{c}"]
        rate = s["objects"] / s["wall"]
        # No scanner can beat concurrency / latency: at 20 ms, 128 in flight is 6,400/s.
        ceiling = c * 1000 / args.latency_ms if args.latency_ms else float("inf")
        print(f"{c} in flight: s3audit {rate:,.0f} objects/s ({rate / ceiling:.0%} of the {ceiling:,.0f}/s "
              f"that {c} in flight at {args.latency_ms} ms allow; target >= 5,000)")
        if f"boto3-{c}" in results:
            b = results[f"boto3-{c}"]
            brate = b["objects"] / b["wall"]
            print(f"  boto3 thread pool {brate:,.0f} objects/s -> s3audit is {rate / brate:.1f}x faster "
                  f"(target >= 20x); CPU per 1,000 objects: s3audit {1000 * s['cpu'] / s['objects']:.3f} s, "
                  f"boto3 {1000 * b['cpu'] / b['objects']:.3f} s ({b['cpu'] / b['objects'] / (s['cpu'] / s['objects']):.0f}x)")
    mem = [(k, v) for k, v in results.items() if k.startswith("memory-")]
    if mem:
        print("peak RSS by object count: " + ", ".join(f"{int(k.split('-')[1]):,}: {v['rss_mib']:.1f} MiB" for k, v in mem)
              + " (target <= 100 MiB at 1,000,000, flat)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
