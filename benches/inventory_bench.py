#!/usr/bin/env python3
"""S3 Inventory benchmark (issue #12): s3audit and DuckDB side by side on the same
inventory of N rows, in CSV.gz and in Parquet; s3audit alone on the same rows in ORC (DuckDB
has no ORC reader).

The inventory is generated here (pyarrow), laid out as `aws s3 sync` copies one (data files
by key, `manifest.json` and `manifest.checksum` under a dated directory), with S3's column
names and types. s3audit reads it with `scan --offline --inventory` (no AWS call), which
checks the manifest's MD5 and every file's MD5 and decodes every row into its counts. DuckDB
runs `SELECT encryption_status, count(*), sum(size) ... GROUP BY ALL` over the same files,
and, since s3audit must verify them, the same MD5 of every file (hashlib) in the same
process. Each side runs as its own process so wall time, CPU and peak RSS are its own.

Run through `scripts/bench-inventory` (it builds s3audit, and installs DuckDB from PyPI into
the venv on first use). Prints both sides per format, and s3audit's peak RSS at a tenth of
the rows, to show it is flat in the row count.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scan_bench import REPO, measure  # noqa: E402

CSV_SCHEMA = ("Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag, "
              "StorageClass, EncryptionStatus, BucketKeyStatus")
PARQUET_SCHEMA = (
    "message s3.inventory { required binary bucket (UTF8); required binary key (UTF8); "
    "optional binary version_id (UTF8); optional boolean is_latest; optional boolean is_delete_marker; "
    "optional int64 size; optional int64 last_modified_date (TIMESTAMP_MILLIS); optional binary e_tag (UTF8); "
    "optional binary storage_class (UTF8); optional binary encryption_status (UTF8); "
    "optional binary bucket_key_status (UTF8); }"
)
ORC_SCHEMA = (
    "struct<bucket:string,key:string,version_id:string,is_latest:boolean,is_delete_marker:boolean,"
    "size:bigint,last_modified_date:timestamp,e_tag:string,storage_class:string,"
    "encryption_status:string,bucket_key_status:string>"
)
STATUSES = ["NOT-SSE", "SSE-S3", "SSE-KMS", "SSE-KMS", "SSE-KMS", "DSSE-KMS", "SSE-C", "SSE-S3"]
BUCKET = "bench-inventory"


def table(start: int, n: int):
    """Rows start..start+n: current objects under 100 prefixes, sizes and statuses cycling."""
    import pyarrow as pa

    i = range(start, start + n)
    return pa.table({
        "bucket": pa.array([BUCKET] * n, pa.string()),
        "key": pa.array([f"p{k % 100:02}/obj-{k:010}.dat" for k in i], pa.string()),
        "version_id": pa.array([None] * n, pa.string()),
        "is_latest": pa.array([True] * n, pa.bool_()),
        "is_delete_marker": pa.array([False] * n, pa.bool_()),
        "size": pa.array([(k * 7919) % 1_000_000 for k in i], pa.int64()),
        "last_modified_date": pa.array([1_764_547_200_000 + k for k in i], pa.timestamp("ms")),
        "e_tag": pa.array([f"{k:032x}" for k in i], pa.string()),
        "storage_class": pa.array(["STANDARD"] * n, pa.string()),
        "encryption_status": pa.array([STATUSES[k % len(STATUSES)] for k in i], pa.string()),
        "bucket_key_status": pa.array(["ENABLED" if k % 2 else "DISABLED" for k in i], pa.string()),
    })


def write_inventory(root: Path, fmt: str, rows: int, files: int) -> tuple[Path, list[Path]]:
    """The inventory's files and manifest under `root`; returns the manifest and data files.
    pyarrow is imported here only: the measuring process stays small (see `generate`)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.orc as orc
    import pyarrow.parquet as pq

    data_dir = root / BUCKET / "cfg" / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    per_file = -(-rows // files)
    entries, paths = [], []
    for f in range(files):
        start, n = f * per_file, min(per_file, rows - f * per_file)
        if n <= 0:
            break
        t = table(start, n)
        if fmt == "CSV":
            path = data_dir / f"part-{f:03}.csv.gz"
            tmp = path.with_suffix("")
            # S3 writes no header and quotes every value; an empty value is a null.
            pacsv.write_csv(t.set_column(6, "last_modified_date",
                                         pa.array([time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(1_764_547_200 + (start + k) // 1000)) for k in range(n)])),
                            tmp, pacsv.WriteOptions(include_header=False, quoting_style="all_valid"))
            with open(tmp, "rb") as src, gzip.open(path, "wb", compresslevel=6) as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
            tmp.unlink()
        elif fmt == "ORC":
            # ZLIB, as S3 writes ORC inventories; the writer's default 64 MiB stripes.
            path = data_dir / f"part-{f:03}.orc"
            orc.write_table(t, path, compression="zlib")
        else:
            path = data_dir / f"part-{f:03}.parquet"
            pq.write_table(t, path, row_group_size=128 * 1024, compression="snappy")
        paths.append(path)
        body = path.read_bytes()
        entries.append({"key": str(path.relative_to(root)), "size": len(body),
                        "MD5checksum": hashlib.md5(body).hexdigest()})
    manifest_dir = root / BUCKET / "cfg" / "2026-12-01T01-00Z"
    manifest_dir.mkdir(parents=True, exist_ok=True)
    manifest = json.dumps({
        "sourceBucket": BUCKET,
        "destinationBucket": "arn:aws:s3:::inventory-destination",
        "version": "2016-11-30",
        "creationTimestamp": str(int(time.time() * 1000) - 3_600_000),
        "fileFormat": fmt,
        "fileSchema": {"CSV": CSV_SCHEMA, "ORC": ORC_SCHEMA}.get(fmt, PARQUET_SCHEMA),
        "files": entries,
    }, indent=2)
    (manifest_dir / "manifest.json").write_text(manifest)
    (manifest_dir / "manifest.checksum").write_text(hashlib.md5(manifest.encode()).hexdigest() + "\n")
    return manifest_dir / "manifest.json", paths


DUCKDB = r"""
import hashlib, json, sys, duckdb
fmt, files = sys.argv[1], sys.argv[2:]
duckdb.execute("SET enable_progress_bar = false")
for f in files:
    h = hashlib.md5()
    with open(f, "rb") as src:
        while chunk := src.read(1 << 20):
            h.update(chunk)
if fmt == "CSV":
    source = ("read_csv(?, header=false, compression='gzip', columns={'bucket':'VARCHAR','key':'VARCHAR',"
              "'version_id':'VARCHAR','is_latest':'BOOLEAN','is_delete_marker':'BOOLEAN','size':'BIGINT',"
              "'last_modified_date':'VARCHAR','e_tag':'VARCHAR','storage_class':'VARCHAR',"
              "'encryption_status':'VARCHAR','bucket_key_status':'VARCHAR'})")
else:
    source = "read_parquet(?)"
rows = duckdb.execute(f"SELECT encryption_status, count(*), sum(size) FROM {source} GROUP BY ALL", [files]).fetchall()
print(json.dumps({"objects": sum(r[1] for r in rows)}))
"""


def generate(root: Path, fmt: str, rows: int, files: int) -> tuple[Path, list[Path]]:
    """`write_inventory` in a child process. A child's peak RSS as wait4 reports it starts
    from its parent's at fork time, so this process must never hold the tables: generated
    here, they made every run's peak read as this process's 110-125 MiB."""
    import subprocess
    out = subprocess.run([sys.executable, __file__, "--generate", str(root), fmt, str(rows), str(files)],
                         check=True, capture_output=True, text=True).stdout
    manifest, paths = json.loads(out)
    return Path(manifest), [Path(p) for p in paths]


def main() -> int:
    if len(sys.argv) == 6 and sys.argv[1] == "--generate":
        root, fmt, rows, files = Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
        manifest, paths = write_inventory(root, fmt, rows, files)
        print(json.dumps([str(manifest), [str(p) for p in paths]]))
        return 0
    p = argparse.ArgumentParser(description="s3audit vs DuckDB on an S3 Inventory")
    p.add_argument("--s3audit", default=str(REPO / "target/release/s3audit"))
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--files", type=int, default=10)
    p.add_argument("--formats", default="CSV,Parquet,ORC")
    a = p.parse_args()
    env = dict(os.environ, AWS_EC2_METADATA_DISABLED="true")

    def s3audit(manifest: Path, rows: int, out: Path) -> dict:
        r = measure([a.s3audit, "scan", "--offline", "--inventory", str(manifest),
                     "--format", "json", "--output", str(out)], env)
        # Offline: bucket settings not read, so the scan is incomplete (3) or fails (1).
        if r["code"] not in (1, 3):
            sys.exit(f"bench: s3audit exited {r['code']}: {r['stderr'][-2000:]}")
        counts = next(b for b in json.loads(out.read_text())["buckets"] if b["name"] == BUCKET)["objects"]
        if counts["total"] != rows:
            sys.exit(f"bench: s3audit counted {counts['total']} objects, not {rows}")
        return r

    print(f"{a.rows:,} inventory rows in {a.files} files; {os.cpu_count()} cores", flush=True)
    print(f"{'format':<8} {'run':<26} {'wall s':>7} {'rows/s':>11} {'CPU s':>7} {'peak MiB':>9}")
    for fmt in a.formats.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            started = time.monotonic()
            manifest, paths = generate(root / "full", fmt, a.rows, a.files)
            small, _ = generate(root / "small", fmt, a.rows // 10, a.files)
            size = sum(p.stat().st_size for p in paths)
            print(f"{fmt:<8} (generated {size / 2**20:,.0f} MiB in {time.monotonic() - started:.0f} s)", flush=True)
            runs = []
            r = s3audit(manifest, a.rows, root / "report.json")
            runs.append((f"s3audit ({a.rows:,} rows)", r, a.rows))
            d = None
            if fmt != "ORC":  # DuckDB has no ORC reader
                d = measure([sys.executable, "-c", DUCKDB, fmt, *map(str, paths)], env)
                if d["code"] != 0 or json.loads(d["stdout"].strip().splitlines()[-1])["objects"] != a.rows:
                    sys.exit(f"bench: duckdb failed: {d['stderr'][-2000:]} {d['stdout'][-500:]}")
                runs.append(("DuckDB + MD5 of every file", d, a.rows))
            r10 = s3audit(small, a.rows // 10, root / "report-small.json")
            runs.append((f"s3audit ({a.rows // 10:,} rows)", r10, a.rows // 10))
            for name, r, rows in runs:
                print(f"{fmt:<8} {name:<26} {r['wall']:>7.1f} {rows / r['wall']:>11,.0f} "
                      f"{r['cpu']:>7.1f} {r['rss_mib']:>9.1f}", flush=True)
            full = runs[0][1]
            ratio = (f"s3audit / DuckDB wall: {full['wall'] / d['wall']:.2f} (target <= 1)" if d
                     else "no DuckDB run (no ORC reader)")
            print(f"{fmt:<8} {ratio}; "
                  f"peak RSS {runs[0][1]['rss_mib']:.0f} MiB at {a.rows:,} rows vs "
                  f"{r10['rss_mib']:.0f} MiB at a tenth (target <= 200, flat)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
