#!/usr/bin/env python3
"""Listing benchmark (issue #14's scenario, scaled to a 2-core machine): s3audit with one
listing stream per bucket (--list-parallelism 1, the old behaviour), s3audit with parallel
listing and per-prefix adaptive rate, and the boto3 thread-pool scanner, each against a
fresh fakes3 with S3's shape: keys under uneven first-level prefixes, a latency per HEAD,
a slower latency per listing page, and a per-prefix HEAD limit answering 503 SlowDown.

Run through `scripts/bench-listing` (it builds release binaries and the venv first).
Prints objects/s, CPU per object, peak RSS and 503s for each run, the 503s' share after the
first seconds ("late %"), and the fakes3 server's own CPU seconds (it shares the cores).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scan_bench import REPO, measure  # noqa: E402


def start_fakes3(a, objects: int) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [
            a.fakes3, "--port", "0", "--seed", "7",
            "--bucket", f"bench:{objects}", "--prefixes", str(a.prefixes),
            "--mix", "none=1,sse_s3=2,sse_kms=6,dsse_kms=1",
            "--latency-ms", str(a.latency_ms), "--list-latency-ms", str(a.list_latency_ms),
            "--head-rate-per-prefix", str(a.prefix_rate), "--exit-on-stdin-eof",
        ],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    line = proc.stdout.readline().strip()
    if not line.startswith("FAKES3_READY "):
        proc.kill()
        sys.exit(f"bench: fakes3 did not start: {line!r}")
    return proc, line.split(" ", 1)[1]


def stats(endpoint: str) -> dict:
    with urllib.request.urlopen(f"{endpoint}/__fakes3/stats") as r:
        return json.load(r)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a running process, from /proc (Linux; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def run(a, objects: int, name: str, cmd_for, env: dict, parse) -> dict:
    """One run on a fresh fakes3. Besides the scanner's own figures, it records the fakes3
    process's CPU (both share this machine's cores, so a scan can be bound by the server),
    and the requests and 503s after the first `--warmup` seconds, when the per-prefix rates
    have been learnt (the issue's target counts throttling after the first seconds)."""
    fake, endpoint = start_fakes3(a, objects)
    warm: dict = {}

    def snapshot_after_warmup():
        try:
            warm.update(stats(endpoint))
        except OSError:
            pass

    timer = threading.Timer(a.warmup, snapshot_after_warmup)
    try:
        fake_cpu = cpu_seconds(fake.pid)
        timer.start()
        r = measure(cmd_for(endpoint), env)
        timer.cancel()
        if r["code"] not in (0, 1):
            sys.exit(f"bench: {name} exited {r['code']}: {r['stderr'][-2000:]}")
        parse(r)
        s = stats(endpoint)
        r["server_cpu"] = cpu_seconds(fake.pid) - fake_cpu
        r["requests"] = s["requests"]
        r["throttled"] = s["faults"].get("rate_limited", 0)
        r["lists"] = s["operations"].get("ListObjectsV2", 0)
        if warm and r["wall"] > a.warmup:
            late = s["requests"] - warm["requests"]
            r["late_503_pct"] = 100 * (r["throttled"] - warm["faults"].get("rate_limited", 0)) / max(late, 1)
    finally:
        timer.cancel()
        fake.kill()
    return r


def main() -> int:
    p = argparse.ArgumentParser(description="s3audit listing benchmark")
    p.add_argument("--s3audit", default=str(REPO / "target/release/s3audit"))
    p.add_argument("--fakes3", default=str(REPO / "target/release/fakes3"))
    p.add_argument("--objects", type=int, default=200_000)
    p.add_argument("--boto3-objects", type=int, default=20_000, help="objects for the (slow) boto3 run")
    p.add_argument("--prefixes", type=int, default=100)
    p.add_argument("--latency-ms", type=int, default=20, help="per HEAD")
    p.add_argument("--list-latency-ms", type=int, default=40, help="per listing page")
    p.add_argument("--prefix-rate", type=int, default=5500, help="HEAD/s per prefix before 503 SlowDown")
    p.add_argument("--concurrency", type=int, default=256)
    p.add_argument("--list-parallelism", type=int, default=8)
    p.add_argument("--skip-boto3", action="store_true")
    p.add_argument("--skip-one-stream", action="store_true",
                   help="leave out the --list-parallelism 1 run (slow at 1M objects)")
    p.add_argument("--warmup", type=float, default=5.0,
                   help="seconds after which 503s count as 'after the first seconds'")
    a = p.parse_args()

    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true")
    for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        env.pop(var, None)

    def s3audit(parallelism: int):
        tmp = tempfile.mkdtemp()
        report = Path(tmp) / "report.json"

        def cmd(endpoint):
            return [a.s3audit, "scan", "--endpoint-url", endpoint, "--format", "json",
                    "--output", str(report), "--concurrency", str(a.concurrency),
                    "--list-parallelism", str(parallelism)]

        def parse(r):
            data = json.loads(report.read_text())
            counts = next(b for b in data["buckets"] if b["name"] == "bench")["objects"]
            r["objects"], r["unreadable"] = counts["total"], counts["unreadable"]
        return cmd, parse

    def boto3_parse(r):
        result = json.loads(r["stdout"].strip().splitlines()[-1])
        r["objects"], r["unreadable"] = result["objects"], result["errors"]

    print(f"{a.objects:,} objects under {a.prefixes} uneven prefixes; HEAD {a.latency_ms} ms, "
          f"listing page {a.list_latency_ms} ms, {a.prefix_rate:,} HEAD/s per prefix; "
          f"{a.concurrency} in flight; {os.cpu_count()} cores", flush=True)
    head = (f"{'run':<40} {'objects':>9} {'wall s':>7} {'objects/s':>10} {'CPU ms/1k':>10} "
            f"{'peak MiB':>9} {'503s':>7} {'503 %':>6} {'late %':>6} {'lists':>6} {'unread':>6} "
            f"{'server CPU s':>12}")
    print(head)
    runs = [] if a.skip_one_stream else [("s3audit, one listing stream", a.objects, *s3audit(1))]
    runs.append((f"s3audit, --list-parallelism {a.list_parallelism}", a.objects, *s3audit(a.list_parallelism)))
    if not a.skip_boto3:
        runs.append((f"boto3 thread pool ({a.concurrency} threads)", a.boto3_objects,
                     lambda ep: [sys.executable, str(REPO / "benches/boto3_scanner.py"), "--endpoint", ep,
                                 "--concurrency", str(a.concurrency), "--bucket", "bench"],
                     boto3_parse))
    results = {}
    for name, objects, cmd, parse in runs:
        r = run(a, objects, name, cmd, env, parse)
        results[name] = r
        rate = r["objects"] / r["wall"]
        late = f"{r['late_503_pct']:.2f}" if "late_503_pct" in r else "-"
        print(f"{name:<40} {r['objects']:>9,} {r['wall']:>7.1f} {rate:>10,.0f} "
              f"{1e6 * r['cpu'] / max(r['objects'], 1):>10.0f} {r['rss_mib']:>9.1f} "
              f"{r['throttled']:>7,} {100 * r['throttled'] / max(r['requests'], 1):>6.2f} "
              f"{late:>6} {r['lists']:>6,} {r['unreadable']:>6,} {r['server_cpu']:>12.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
