#!/usr/bin/env python3
"""Writes an S3 Inventory data file in ORC (pyarrow.orc, the Apache ORC C++ writer), with
the columns and types of the S3 User Guide's ORC manifest example, for the tests of
`s3audit scan --inventory`.

    orc_fixture.py OUT [--rows-per-stripe N] [--omit COLUMN] [--type COLUMN=TYPE]
        [--compression zlib|snappy|zstd|uncompressed] < rows.json

rows.json is a JSON list of objects keyed by ORC column name (bucket, key, version_id,
is_latest, is_delete_marker, size, encryption_status, ...); a missing or null value is a
null. Keys are written as they are: ORC inventories do not URL-encode them. --omit leaves a
column out of the file and --type writes one with another type (string, boolean, bigint),
so the tests can give s3audit a file that disagrees with its manifest. AWS writes ZLIB;
--rows-per-stripe (several stripes in a small file) needs --compression uncompressed.
"""

import argparse
import json
import sys

import pyarrow as pa
import pyarrow.orc

# fileSchema of the S3 User Guide's ORC manifest example, in order.
SCHEMA = (
    "struct<bucket:string,key:string,version_id:string,is_latest:boolean,"
    "is_delete_marker:boolean,size:bigint,last_modified_date:timestamp,e_tag:string,"
    "storage_class:string,is_multipart_uploaded:boolean,replication_status:string,"
    "encryption_status:string,object_lock_retain_until_date:timestamp,"
    "object_lock_mode:string,object_lock_legal_hold_status:string,"
    "intelligent_tiering_access_tier:string,bucket_key_status:string,"
    "checksum_algorithm:string>"
)

TYPES = {
    "string": pa.string(),
    "boolean": pa.bool_(),
    "bigint": pa.int64(),
    "timestamp": pa.timestamp("ms"),
}


def columns():
    body = SCHEMA[len("struct<") : -1]
    return [tuple(c.split(":")) for c in body.split(",")]


def convert(value, hive):
    if value is None:
        return None
    if hive == "string":
        return value if isinstance(value, str) else json.dumps(value)
    if hive == "boolean":
        return bool(value)
    if hive == "bigint":
        return int(value)
    return value


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--rows-per-stripe", type=int, default=0)
    p.add_argument("--omit", action="append", default=[])
    p.add_argument("--type", action="append", default=[], metavar="COLUMN=TYPE")
    p.add_argument("--compression", default="zlib")
    args = p.parse_args()
    rows = json.load(sys.stdin)
    overrides = dict(t.split("=", 1) for t in args.type)
    arrays, fields = [], []
    for name, hive in columns():
        if name in args.omit:
            continue
        hive = overrides.get(name, hive)
        values = [convert(r.get(name), hive) for r in rows]
        arrays.append(pa.array(values, type=TYPES[hive]))
        fields.append(name)
    table = pa.Table.from_arrays(arrays, names=fields)
    options = {"compression": args.compression}
    if args.rows_per_stripe:
        # The writer closes a stripe once it holds stripe_size bytes, checked after each
        # batch: a tiny stripe size makes one stripe per batch. A compressed stream counts
        # nothing until its first 64 KiB block is full, so this works uncompressed only.
        if args.compression != "uncompressed":
            sys.exit("--rows-per-stripe needs --compression uncompressed")
        options.update(stripe_size=1, batch_size=args.rows_per_stripe)
    pyarrow.orc.write_table(table, args.out, **options)
    if args.rows_per_stripe:
        stripes = pyarrow.orc.ORCFile(args.out).nstripes
        want = -(-len(rows) // args.rows_per_stripe)
        if stripes != want:
            sys.exit(f"{stripes} stripes written, wanted {want}")


if __name__ == "__main__":
    main()
