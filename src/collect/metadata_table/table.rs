//! The Iceberg table metadata file (`metadata/NNNNN-uuid.metadata.json`, Iceberg table spec
//! "Table Metadata"): the table's location, its current snapshot (manifest list, timestamp)
//! and the schema that snapshot was written with, from which the columns are found by
//! field id.

use serde_json::Value;
use time::OffsetDateTime;

/// The columns read, as AWS's live inventory table names them. All must be in the table's
/// schema: a table without one of them is not an S3 Metadata inventory table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Bucket,
    Key,
    SequenceNumber,
    VersionId,
    IsDeleteMarker,
    Size,
    EncryptionStatus,
    KmsKeyArn,
}

impl Column {
    pub const ALL: [Column; 8] = [
        Column::Bucket,
        Column::Key,
        Column::SequenceNumber,
        Column::VersionId,
        Column::IsDeleteMarker,
        Column::Size,
        Column::EncryptionStatus,
        Column::KmsKeyArn,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Column::Bucket => "bucket",
            Column::Key => "key",
            Column::SequenceNumber => "sequence_number",
            Column::VersionId => "version_id",
            Column::IsDeleteMarker => "is_delete_marker",
            Column::Size => "size",
            Column::EncryptionStatus => "encryption_status",
            Column::KmsKeyArn => "kms_key_arn",
        }
    }

    /// The Iceberg type AWS documents for the column.
    fn iceberg_type(self) -> &'static str {
        match self {
            Column::IsDeleteMarker => "boolean",
            Column::Size => "long",
            _ => "string",
        }
    }
}

/// What the scan needs from a metadata file.
#[derive(Debug, Clone, PartialEq)]
pub struct TableMetadata {
    /// The table's base location (`location`): data and metadata paths start with it.
    pub location: String,
    pub snapshot_id: i64,
    /// When the current snapshot was committed: the counts are as of then.
    pub as_of: OffsetDateTime,
    /// The current snapshot's manifest list (an absolute path or URI).
    pub manifest_list: String,
    /// Iceberg field id of each [`Column`], in [`Column::ALL`] order.
    pub field_ids: [i32; 8],
}

impl TableMetadata {
    pub fn parse(text: &[u8]) -> Result<Self, String> {
        let json: Value = serde_json::from_slice(text)
            .map_err(|e| format!("not an Iceberg table metadata file (invalid JSON: {e})"))?;
        let version = json["format-version"].as_i64().ok_or(
            "not an Iceberg table metadata file (no format-version): give the table's metadata/*.metadata.json",
        )?;
        if !(1..=3).contains(&version) {
            return Err(format!(
                "Iceberg format-version {version} is not supported (1 to 3 are)"
            ));
        }
        let location = json["location"]
            .as_str()
            .ok_or("the metadata file has no location")?
            .trim_end_matches('/')
            .to_string();
        let current = json["current-snapshot-id"].as_i64().filter(|&id| id != -1);
        let Some(snapshot_id) = current else {
            return Err(
                "the table has no current snapshot (it is empty, or still backfilling): no object is recorded in it"
                    .to_string(),
            );
        };
        let snapshot = json["snapshots"]
            .as_array()
            .and_then(|all| {
                all.iter()
                    .find(|s| s["snapshot-id"].as_i64() == Some(snapshot_id))
            })
            .ok_or_else(|| format!("the current snapshot {snapshot_id} is not in its snapshots"))?;
        let manifest_list = match snapshot["manifest-list"].as_str() {
            Some(list) => list.to_string(),
            None if snapshot.get("manifests").is_some() => {
                return Err(
                    "the current snapshot lists its manifests inline (an early format-version 1 table): not supported, only a manifest-list"
                        .to_string(),
                );
            }
            None => return Err(format!("snapshot {snapshot_id} has no manifest-list")),
        };
        let millis = snapshot["timestamp-ms"]
            .as_i64()
            .ok_or_else(|| format!("snapshot {snapshot_id} has no timestamp-ms"))?;
        let as_of = OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
            .map_err(|_| {
                format!("snapshot {snapshot_id} has an impossible timestamp-ms {millis}")
            })?;
        let schema = schema_of(&json, snapshot)?;
        let mut field_ids = [0; 8];
        for (slot, column) in field_ids.iter_mut().zip(Column::ALL) {
            let field = schema
                .iter()
                .find(|f| f["name"].as_str() == Some(column.name()))
                .ok_or_else(|| {
                    format!(
                        "the table has no {} column: not an S3 Metadata live inventory table",
                        column.name()
                    )
                })?;
            if field["type"].as_str() != Some(column.iceberg_type()) {
                return Err(format!(
                    "column {} is {}, an S3 Metadata inventory table's is {}",
                    column.name(),
                    field["type"],
                    column.iceberg_type()
                ));
            }
            *slot = field["id"]
                .as_i64()
                .and_then(|id| i32::try_from(id).ok())
                .ok_or_else(|| format!("column {} has no field id", column.name()))?;
        }
        Ok(TableMetadata {
            location,
            snapshot_id,
            as_of,
            manifest_list,
            field_ids,
        })
    }
}

/// The top-level fields of the schema the snapshot was written with (its `schema-id`, else
/// the table's current schema; a format-version 1 table may have a single `schema`).
fn schema_of<'a>(json: &'a Value, snapshot: &Value) -> Result<&'a Vec<Value>, String> {
    let id = snapshot["schema-id"]
        .as_i64()
        .or_else(|| json["current-schema-id"].as_i64());
    let schema = match (id, json["schemas"].as_array()) {
        (Some(id), Some(all)) => all.iter().find(|s| s["schema-id"].as_i64() == Some(id)),
        _ => json.get("schema"),
    };
    schema
        .and_then(|s| s["fields"].as_array())
        .ok_or_else(|| "the metadata file has no schema for its current snapshot".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(fields: &str, current: &str) -> String {
        format!(
            r#"{{"format-version": 2, "location": "s3://b/t/", "current-snapshot-id": {current},
            "current-schema-id": 0,
            "schemas": [{{"schema-id": 0, "type": "struct", "fields": [{fields}]}}],
            "snapshots": [{{"snapshot-id": 7, "timestamp-ms": 1767225600000,
              "manifest-list": "s3://b/t/metadata/snap-7.avro", "schema-id": 0}}]}}"#
        )
    }

    fn all_fields() -> String {
        Column::ALL
            .iter()
            .enumerate()
            .map(|(i, c)| {
                format!(
                    r#"{{"id": {}, "name": "{}", "type": "{}", "required": false}}"#,
                    i + 10,
                    c.name(),
                    c.iceberg_type()
                )
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    #[test]
    fn the_current_snapshot_and_field_ids_are_read() {
        let m = TableMetadata::parse(metadata(&all_fields(), "7").as_bytes()).unwrap();
        assert_eq!(m.location, "s3://b/t");
        assert_eq!(m.snapshot_id, 7);
        assert_eq!(m.manifest_list, "s3://b/t/metadata/snap-7.avro");
        assert_eq!(m.as_of.unix_timestamp(), 1_767_225_600);
        assert_eq!(m.field_ids, [10, 11, 12, 13, 14, 15, 16, 17]);
    }

    #[test]
    fn tables_that_are_not_inventory_tables_are_refused() {
        let without_arn = all_fields().replace("kms_key_arn", "other");
        let e = TableMetadata::parse(metadata(&without_arn, "7").as_bytes()).unwrap_err();
        assert!(e.contains("no kms_key_arn column"), "{e}");
        let wrong_type =
            all_fields().replace(r#""size", "type": "long""#, r#""size", "type": "string""#);
        let e = TableMetadata::parse(metadata(&wrong_type, "7").as_bytes()).unwrap_err();
        assert!(e.contains("column size is \"string\""), "{e}");
        let e = TableMetadata::parse(metadata(&all_fields(), "-1").as_bytes()).unwrap_err();
        assert!(e.contains("no current snapshot"), "{e}");
        let e = TableMetadata::parse(metadata(&all_fields(), "8").as_bytes()).unwrap_err();
        assert!(e.contains("snapshot 8 is not in"), "{e}");
        let e = TableMetadata::parse(b"{\"location\": 1").unwrap_err();
        assert!(e.contains("invalid JSON"), "{e}");
    }
}
