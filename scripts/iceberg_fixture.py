#!/usr/bin/env python3
"""Writes an S3 Metadata live inventory table fixture: a real Apache Iceberg table (pyiceberg,
a local SQLite catalog) with the columns of AWS's "S3 Metadata live inventory tables schema",
for the tests of `s3audit scan --metadata-table`.

    iceberg_fixture.py DIR --bucket NAME --key-a ARN --key-b ARN
        [--s3tables-endpoint URL]

prints the table's current metadata.json path. With --s3tables-endpoint (moto's server),
the table is made as S3 makes a live inventory table instead: an S3 Tables table bucket
`aws-s3`, namespace `b_<bucket>`, table `inventory`, its files written to the table's
warehouse location in S3 and its metadata location registered; it prints the table
bucket's ARN. The rows (see ROWS) cover several versions per
key, a version written with a smaller sequence number after a newer one, delete markers,
a null encryption_status, every documented status and an unknown one, in several data files
over several snapshots, and one version removed by a copy-on-write delete (its manifest
entry is DELETED). The Rust tests assert the counts those rows must give.
"""

import argparse
import datetime
import sys
from pathlib import Path

import pyarrow as pa
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.expressions import EqualTo
from pyiceberg.io.pyarrow import PyArrowFileIO
from pyiceberg.schema import Schema
from pyiceberg.types import (
    BooleanType,
    LongType,
    MapType,
    NestedField,
    StringType,
    TimestamptzType,
)

# The live inventory table's columns, as AWS documents them (required ones first).
SCHEMA = Schema(
    NestedField(1, "bucket", StringType(), required=True),
    NestedField(2, "key", StringType(), required=True),
    NestedField(3, "sequence_number", StringType(), required=True),
    NestedField(4, "version_id", StringType(), required=False),
    NestedField(5, "is_delete_marker", BooleanType(), required=False),
    NestedField(6, "size", LongType(), required=False),
    NestedField(7, "last_modified_date", TimestamptzType(), required=False),
    NestedField(8, "e_tag", StringType(), required=False),
    NestedField(9, "storage_class", StringType(), required=False),
    NestedField(10, "is_multipart", BooleanType(), required=False),
    NestedField(11, "encryption_status", StringType(), required=False),
    NestedField(12, "is_bucket_key_enabled", BooleanType(), required=False),
    NestedField(13, "kms_key_arn", StringType(), required=False),
    NestedField(14, "checksum_algorithm", StringType(), required=False),
    NestedField(
        15,
        "object_tags",
        MapType(16, StringType(), 17, StringType(), value_required=False),
        required=False,
    ),
    NestedField(
        18,
        "user_metadata",
        MapType(19, StringType(), 20, StringType(), value_required=False),
        required=False,
    ),
)


class MirrorIO(PyArrowFileIO):
    """Reads and writes `s3://BUCKET/KEY` as `MIRROR_ROOT/BUCKET/KEY` on local disk, so a
    table whose every path is in S3 is written without touching S3 (uploaded after)."""

    def _local(self, location):
        if location.startswith("s3://"):
            return "file://" + self.properties["mirror.root"] + "/" + location.removeprefix("s3://")
        return location

    def new_input(self, location):
        return self._named(super().new_input(self._local(location)), location)

    def new_output(self, location):
        return self._named(super().new_output(self._local(location)), location)

    @staticmethod
    def _named(file, location):
        # Local bytes, but the table records (and reads back) the s3:// name.
        file._location = location
        return file

    def delete(self, location):
        return super().delete(self._local(location) if isinstance(location, str) else location)


def seq(n):
    """A sequence number shaped like AWS's: fixed-width hex, compared as text."""
    return f"80e737d8b4d82f776a{n:084x}"


# (key, sequence, version, delete marker, size, encryption_status, key ARN placeholder),
# one inner list per append (each its own snapshot and data file).
def rows(a, b):
    return [
        [
            ("a.txt", 1, "a1", False, 10, None, None),
            ("b.txt", 1, "b1", False, 30, "SSE-S3", None),
            ("c.txt", 5, "c1", False, 40, "DSSE-KMS", b),
            ("g.txt", 3, "g1", False, 80, "SSE-KMS", b),
            ("h.txt", 1, "h1", False, 100, "SSE-KMS", b),
        ],
        [
            ("a.txt", 2, "a2", False, 20, "SSE-KMS", a),
            ("c.txt", 7, "c2", True, None, None, None),
            ("d.txt", 1, "d1", False, 50, "SSE-C", None),
            ("e.txt", 1, "e1", False, 60, "SSE-FOO", None),
            ("g.txt", 9, "g2", False, 90, "SSE-KMS", a),
        ],
        [
            ("f.txt", 1, None, False, 70, None, None),
            # Written after g2 but with a smaller sequence number: noncurrent.
            ("g.txt", 4, "g3", False, 5, "SSE-S3", None),
            ("k.txt", 2, "k2", True, None, None, None),
        ],
    ]


def table_of(schema, bucket, batch):
    columns = {f.name: [] for f in SCHEMA.fields}
    when = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    for key, n, version, marker, size, status, arn in batch:
        columns["bucket"].append(bucket)
        columns["key"].append(key)
        columns["sequence_number"].append(seq(n))
        columns["version_id"].append(version)
        columns["is_delete_marker"].append(marker)
        columns["size"].append(size)
        columns["last_modified_date"].append(None if marker else when)
        columns["e_tag"].append(None if marker else "etag")
        columns["storage_class"].append(None if marker else "STANDARD")
        columns["is_multipart"].append(None if marker else False)
        columns["encryption_status"].append(status)
        columns["is_bucket_key_enabled"].append(None if marker else False)
        columns["kms_key_arn"].append(arn)
        columns["checksum_algorithm"].append(None)
        columns["object_tags"].append(None if marker else [])
        columns["user_metadata"].append(None if marker else [])
    return pa.Table.from_pydict(columns, schema=schema.as_arrow())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--bucket", required=True)
    p.add_argument("--key-a", required=True)
    p.add_argument("--key-b", required=True)
    p.add_argument("--s3tables-endpoint")
    args = p.parse_args()
    Path(args.dir).mkdir(parents=True, exist_ok=True)
    namespace = f"b_{args.bucket}".replace("-", "_")
    warehouse, properties, tables = f"file://{args.dir}/warehouse", {}, None
    if args.s3tables_endpoint:
        import boto3

        keys = dict(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
        tables = boto3.client("s3tables", endpoint_url=args.s3tables_endpoint, **keys)
        bucket_arn = tables.create_table_bucket(name="aws-s3")["arn"]
        tables.create_namespace(tableBucketARN=bucket_arn, namespace=[namespace])
        tables.create_table(tableBucketARN=bucket_arn, namespace=namespace, name="inventory", format="ICEBERG")
        warehouse = tables.get_table(tableBucketARN=bucket_arn, namespace=namespace, name="inventory")[
            "warehouseLocation"
        ]
        # Written to a local mirror, then uploaded: pyarrow's S3 writer lists a key to learn
        # it does not exist, and S3 (and moto) refuse listings of table storage.
        properties = {"py-io-impl": "iceberg_fixture.MirrorIO", "mirror.root": f"{args.dir}/mirror"}
    catalog = SqlCatalog(
        "fixture",
        uri=f"sqlite:///{args.dir}/catalog.db",
        warehouse=warehouse,
        **properties,
    )
    catalog.create_namespace(namespace)
    table = catalog.create_table(f"{namespace}.inventory", schema=SCHEMA)
    for batch in rows(args.key_a, args.key_b):
        table.append(table_of(table.schema(), args.bucket, batch))
    # A permanently deleted version leaves the table: copy-on-write rewrites its file and
    # marks the old one DELETED in the new snapshot's manifest.
    table.delete(EqualTo("version_id", "h1"))
    if tables is None:
        print(table.metadata_location)
        return
    s3 = boto3.client("s3", endpoint_url=args.s3tables_endpoint, **keys)
    storage = warehouse.removeprefix("s3://").split("/")[0]
    mirror = Path(args.dir) / "mirror" / storage
    for path in sorted(p for p in mirror.rglob("*") if p.is_file()):
        s3.put_object(Bucket=storage, Key=str(path.relative_to(mirror)), Body=path.read_bytes())
    token = tables.get_table(tableBucketARN=bucket_arn, namespace=namespace, name="inventory")["versionToken"]
    tables.update_table_metadata_location(
        tableBucketARN=bucket_arn,
        namespace=namespace,
        name="inventory",
        versionToken=token,
        metadataLocation=table.metadata_location,
    )
    print(bucket_arn)


if __name__ == "__main__":
    # pyiceberg loads MirrorIO by module name.
    sys.modules.setdefault("iceberg_fixture", sys.modules["__main__"])
    main()
