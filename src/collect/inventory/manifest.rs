//! `manifest.json`, as the S3 User Guide documents it ("Locating your inventory list",
//! "Inventory manifest"), and its `fileSchema`: the column order of a CSV inventory, the
//! Parquet message type of a Parquet one, the Hive struct type of an ORC one.

use serde::Deserialize;
use time::OffsetDateTime;

/// The inventory's file format (`fileFormat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// CSV compressed with GZIP; keys URL-encoded.
    Csv,
    /// Apache Parquet compressed with Snappy.
    Parquet,
    /// Apache ORC compressed with ZLIB.
    Orc,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "CSV",
            Format::Parquet => "Parquet",
            Format::Orc => "ORC",
        }
    }
}

/// A manifest, checked: what the data files hold and where they are.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub source_bucket: String,
    /// The bucket the data files are in (`destinationBucket`, an ARN in AWS's manifests).
    pub destination_bucket: String,
    /// `creationTimestamp`: when S3 began scanning the source bucket for this report.
    pub created: OffsetDateTime,
    pub format: Format,
    pub columns: Columns,
    pub files: Vec<ManifestFile>,
}

/// One data file the manifest lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestFile {
    pub key: String,
    /// Its size in bytes, when the manifest states it.
    pub size: Option<u64>,
    /// Its MD5, lowercase hex.
    pub md5: String,
}

/// The fields of manifest.json s3audit reads. Others (`version`, new ones AWS may add) are
/// ignored: they say nothing about the rows.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    source_bucket: String,
    destination_bucket: String,
    creation_timestamp: Timestamp,
    file_format: String,
    file_schema: String,
    files: Vec<RawFile>,
}

#[derive(Deserialize)]
struct RawFile {
    key: String,
    size: Option<u64>,
    #[serde(rename = "MD5checksum")]
    md5: String,
}

/// AWS writes `creationTimestamp` as a string of epoch milliseconds; a number is accepted
/// too.
#[derive(Deserialize)]
#[serde(untagged)]
enum Timestamp {
    Text(String),
    Number(i64),
}

/// The inventory columns s3audit knows, by their CSV `fileSchema` name and their Parquet
/// (and ORC) column name, in the order of the S3 User Guide's list.
const KNOWN: &[(&str, &str)] = &[
    ("Bucket", "bucket"),
    ("Key", "key"),
    ("VersionId", "version_id"),
    ("IsLatest", "is_latest"),
    ("IsDeleteMarker", "is_delete_marker"),
    ("Size", "size"),
    ("LastModifiedDate", "last_modified_date"),
    ("ETag", "e_tag"),
    ("StorageClass", "storage_class"),
    ("IsMultipartUploaded", "is_multipart_uploaded"),
    ("ReplicationStatus", "replication_status"),
    ("EncryptionStatus", "encryption_status"),
    ("ObjectLockRetainUntilDate", "object_lock_retain_until_date"),
    ("ObjectLockMode", "object_lock_mode"),
    ("ObjectLockLegalHoldStatus", "object_lock_legal_hold_status"),
    (
        "IntelligentTieringAccessTier",
        "intelligent_tiering_access_tier",
    ),
    ("BucketKeyStatus", "bucket_key_status"),
    ("ChecksumAlgorithm", "checksum_algorithm"),
    ("ObjectAccessControlList", "object_access_control_list"),
    ("ObjectOwner", "object_owner"),
    ("LifecycleExpirationDate", "lifecycle_expiration_date"),
];

/// The columns the counts use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Bucket,
    Key,
    VersionId,
    IsLatest,
    IsDeleteMarker,
    Size,
    EncryptionStatus,
}

impl Field {
    pub const ALL: [Field; 7] = [
        Field::Bucket,
        Field::Key,
        Field::VersionId,
        Field::IsLatest,
        Field::IsDeleteMarker,
        Field::Size,
        Field::EncryptionStatus,
    ];

    /// The CSV `fileSchema` name.
    pub fn csv_name(self) -> &'static str {
        match self {
            Field::Bucket => "Bucket",
            Field::Key => "Key",
            Field::VersionId => "VersionId",
            Field::IsLatest => "IsLatest",
            Field::IsDeleteMarker => "IsDeleteMarker",
            Field::Size => "Size",
            Field::EncryptionStatus => "EncryptionStatus",
        }
    }

    /// The Parquet and ORC column name.
    pub fn column_name(self) -> &'static str {
        KNOWN
            .iter()
            .find(|(csv, _)| *csv == self.csv_name())
            .map(|(_, col)| *col)
            .expect("every field is known")
    }

    /// Without these the rows cannot be counted: which bucket, which object, which mode.
    fn required(self) -> bool {
        matches!(self, Field::Bucket | Field::Key | Field::EncryptionStatus)
    }
}

/// Where each used field is in the schema (its position), and how many columns there are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    pub count: usize,
    positions: [Option<usize>; 7],
}

impl Columns {
    pub fn position(&self, field: Field) -> Option<usize> {
        self.positions[field as usize]
    }

    /// From the schema's column names (CSV spelling, or the lower_snake one of Parquet and
    /// ORC): every name must be one S3 Inventory documents, once, and the required fields
    /// must be there.
    fn from_names(names: &[String], snake: bool) -> Result<Self, String> {
        let mut positions = [None; 7];
        for (i, name) in names.iter().enumerate() {
            let known = KNOWN
                .iter()
                .find(|(csv, col)| name == if snake { col } else { csv });
            let Some((csv, _)) = known else {
                let names: Vec<&str> = KNOWN
                    .iter()
                    .map(|(csv, col)| if snake { *col } else { *csv })
                    .collect();
                return Err(format!(
                    "fileSchema has a column {name:?} that S3 Inventory does not document (known: {})",
                    names.join(", ")
                ));
            };
            if names[..i].contains(name) {
                return Err(format!("fileSchema names the column {name:?} twice"));
            }
            if let Some(field) = Field::ALL.iter().find(|f| f.csv_name() == *csv) {
                positions[*field as usize] = Some(i);
            }
        }
        for field in Field::ALL {
            if field.required() && positions[field as usize].is_none() {
                let name = if snake {
                    field.column_name()
                } else {
                    field.csv_name()
                };
                return Err(format!(
                    "fileSchema has no {name} column: add the {} field to the inventory configuration",
                    field.csv_name()
                ));
            }
        }
        Ok(Columns {
            count: names.len(),
            positions,
        })
    }
}

impl Manifest {
    pub fn parse(text: &[u8]) -> Result<Self, String> {
        let raw: Raw = serde_json::from_slice(text)
            .map_err(|e| format!("not an S3 Inventory manifest.json: {e}"))?;
        let format = match raw.file_format.as_str() {
            "CSV" => Format::Csv,
            "Parquet" => Format::Parquet,
            "ORC" => Format::Orc,
            other => {
                return Err(format!(
                    "unknown fileFormat {other:?} (CSV, Parquet or ORC)"
                ));
            }
        };
        let names = match format {
            Format::Csv => csv_names(&raw.file_schema),
            Format::Parquet => parquet_names(&raw.file_schema)?,
            Format::Orc => orc_names(&raw.file_schema)?,
        };
        let columns = Columns::from_names(&names, format != Format::Csv)?;
        let millis = match raw.creation_timestamp {
            Timestamp::Number(n) => n,
            Timestamp::Text(s) => s
                .trim()
                .parse()
                .map_err(|_| format!("creationTimestamp {s:?} is not epoch milliseconds"))?,
        };
        let created = OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
            .map_err(|_| format!("creationTimestamp {millis} is out of range"))?;
        // AWS writes an ARN; a bare name is taken as it is.
        let destination_bucket = raw
            .destination_bucket
            .strip_prefix("arn:aws:s3:::")
            .or_else(|| {
                // Other partitions: arn:aws-cn:s3:::name, arn:aws-us-gov:s3:::name.
                raw.destination_bucket
                    .strip_prefix("arn:")
                    .and_then(|r| r.split_once(":s3:::"))
                    .map(|(_, name)| name)
            })
            .unwrap_or(&raw.destination_bucket)
            .to_string();
        if destination_bucket.is_empty() || destination_bucket.contains('/') {
            return Err(format!(
                "destinationBucket {:?} is not a bucket",
                raw.destination_bucket
            ));
        }
        if raw.source_bucket.is_empty() {
            return Err("sourceBucket is empty".to_string());
        }
        let mut files = Vec::with_capacity(raw.files.len());
        for f in raw.files {
            let md5 = f.md5.trim().to_ascii_lowercase();
            if md5.len() != 32 || !md5.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!(
                    "file {}: MD5checksum {:?} is not an MD5",
                    f.key, f.md5
                ));
            }
            if f.key.is_empty() {
                return Err("a file with an empty key".to_string());
            }
            files.push(ManifestFile {
                key: f.key,
                size: f.size,
                md5,
            });
        }
        Ok(Manifest {
            source_bucket: raw.source_bucket,
            destination_bucket,
            created,
            format,
            columns,
            files,
        })
    }
}

/// "Bucket, Key, VersionId, ..." → its names.
fn csv_names(schema: &str) -> Vec<String> {
    schema.split(',').map(|s| s.trim().to_string()).collect()
}

/// "message s3.inventory { required binary bucket (UTF8); optional boolean is_latest; ... }"
/// → its top-level column names (the word after the type, before any annotation).
fn parquet_names(schema: &str) -> Result<Vec<String>, String> {
    let bad = || format!("fileSchema {schema:?} is not a Parquet message type");
    let body = schema
        .split_once('{')
        .and_then(|(_, rest)| rest.rsplit_once('}'))
        .map(|(body, _)| body)
        .ok_or_else(bad)?;
    if body.contains('{') {
        return Err(format!(
            "{}: nested groups are not S3 Inventory columns",
            bad()
        ));
    }
    let mut names = Vec::new();
    for field in body.split(';').map(str::trim).filter(|f| !f.is_empty()) {
        // repetition, physical type, name, then an optional "(ANNOTATION)".
        let words: Vec<&str> = field.split_whitespace().collect();
        match words.as_slice() {
            [_repetition, _type, name, ..] => names.push(name.trim_end_matches('(').to_string()),
            _ => return Err(format!("{}: cannot read the column {field:?}", bad())),
        }
    }
    Ok(names)
}

/// "struct<bucket:string,key:string,...,size:bigint,...>" (a Hive type, as ORC writers and
/// the S3 User Guide's ORC manifest spell a schema) → its top-level column names.
fn orc_names(schema: &str) -> Result<Vec<String>, String> {
    let bad = || format!("fileSchema {schema:?} is not an ORC struct type");
    let body = schema
        .trim()
        .strip_prefix("struct<")
        .and_then(|rest| rest.strip_suffix('>'))
        .ok_or_else(bad)?;
    if body.contains(['<', '>', '(']) {
        return Err(format!(
            "{}: nested or parameterised types are not S3 Inventory columns",
            bad()
        ));
    }
    body.split(',')
        .map(|field| match field.split_once(':') {
            Some((name, kind)) if !name.trim().is_empty() && !kind.trim().is_empty() => {
                Ok(name.trim().to_string())
            }
            _ => Err(format!("{}: cannot read the column {field:?}", bad())),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // The CSV example of the S3 User Guide's "Inventory manifest".
    const CSV_MANIFEST: &str = r#"{
        "sourceBucket": "example-source-bucket",
        "destinationBucket": "arn:aws:s3:::example-inventory-destination-bucket",
        "version": "2016-11-30",
        "creationTimestamp" : "1514944800000",
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag, StorageClass, IsMultipartUploaded, ReplicationStatus, EncryptionStatus, ObjectLockRetainUntilDate, ObjectLockMode, ObjectLockLegalHoldStatus, IntelligentTieringAccessTier, BucketKeyStatus, ChecksumAlgorithm",
        "files": [
            {
                "key": "Inventory/example-source-bucket/2016-11-06T21-32Z/files/939c6d46-85a9-4ba8-87bd-9db705a579ce.csv.gz",
                "size": 2147483647,
                "MD5checksum": "f11166069f1990abeb9c97ace9cdfabc"
            }
        ]
    }"#;

    #[test]
    fn the_documented_csv_manifest_parses() {
        let m = Manifest::parse(CSV_MANIFEST.as_bytes()).unwrap();
        assert_eq!(m.source_bucket, "example-source-bucket");
        assert_eq!(m.destination_bucket, "example-inventory-destination-bucket");
        assert_eq!(m.format, Format::Csv);
        assert_eq!(m.created.unix_timestamp(), 1_514_944_800);
        assert_eq!(m.columns.count, 18);
        assert_eq!(m.columns.position(Field::Key), Some(1));
        assert_eq!(m.columns.position(Field::EncryptionStatus), Some(11));
        assert_eq!(m.files[0].size, Some(2_147_483_647));
    }

    #[test]
    fn the_documented_parquet_schema_parses() {
        let schema = "message s3.inventory { required binary bucket (UTF8); required binary key (UTF8); optional binary version_id (UTF8); optional boolean is_latest; optional boolean is_delete_marker; optional int64 size; optional int64 last_modified_date (TIMESTAMP_MILLIS); optional binary e_tag (UTF8); optional binary storage_class (UTF8); optional boolean is_multipart_uploaded; optional binary replication_status (UTF8); optional binary encryption_status (UTF8); optional int64 object_lock_retain_until_date (TIMESTAMP_MILLIS); optional binary object_lock_mode (UTF8); optional binary object_lock_legal_hold_status (UTF8); optional binary intelligent_tiering_access_tier (UTF8); optional binary bucket_key_status (UTF8); optional binary checksum_algorithm (UTF8); }";
        let mut json: serde_json::Value = serde_json::from_str(CSV_MANIFEST).unwrap();
        json["fileFormat"] = "Parquet".into();
        json["fileSchema"] = schema.into();
        let text = json.to_string();
        let m = Manifest::parse(text.as_bytes()).unwrap();
        assert_eq!(m.format, Format::Parquet);
        assert_eq!(m.columns.position(Field::Size), Some(5));
        assert_eq!(m.columns.position(Field::EncryptionStatus), Some(11));
    }

    /// The fileSchema of the S3 User Guide's ORC manifest example.
    pub(crate) const ORC_SCHEMA: &str = "struct<bucket:string,key:string,version_id:string,is_latest:boolean,is_delete_marker:boolean,size:bigint,last_modified_date:timestamp,e_tag:string,storage_class:string,is_multipart_uploaded:boolean,replication_status:string,encryption_status:string,object_lock_retain_until_date:timestamp,object_lock_mode:string,object_lock_legal_hold_status:string,intelligent_tiering_access_tier:string,bucket_key_status:string,checksum_algorithm:string>";

    fn orc_manifest(schema: &str) -> Result<Manifest, String> {
        let mut json: serde_json::Value = serde_json::from_str(CSV_MANIFEST).unwrap();
        json["fileFormat"] = "ORC".into();
        json["fileSchema"] = schema.into();
        Manifest::parse(json.to_string().as_bytes())
    }

    #[test]
    fn the_documented_orc_schema_parses() {
        let m = orc_manifest(ORC_SCHEMA).unwrap();
        assert_eq!(m.format, Format::Orc);
        assert_eq!(m.format.as_str(), "ORC");
        assert_eq!(m.columns.count, 18);
        assert_eq!(m.columns.position(Field::Key), Some(1));
        assert_eq!(m.columns.position(Field::Size), Some(5));
        assert_eq!(m.columns.position(Field::EncryptionStatus), Some(11));
        // Without versions: no version columns, still counted.
        let m =
            orc_manifest("struct<bucket:string, key:string, encryption_status:string>").unwrap();
        assert_eq!(m.columns.position(Field::IsLatest), None);
        assert_eq!(m.columns.position(Field::EncryptionStatus), Some(2));
    }

    #[test]
    fn bad_orc_schemas_say_why() {
        let with =
            |from: &str, to: &str| orc_manifest(&ORC_SCHEMA.replacen(from, to, 1)).unwrap_err();
        assert!(
            with(",encryption_status:string", "")
                .contains("no encryption_status column: add the EncryptionStatus field")
        );
        assert!(with("e_tag", "etag").contains("\"etag\" that S3 Inventory does not document"));
        assert!(with("e_tag", "key").contains("\"key\" twice"));
        // CSV names are not ORC names.
        assert!(
            with("bucket:", "Bucket:").contains("\"Bucket\" that S3 Inventory does not document")
        );
        assert!(with("struct<", "message s3.inventory {").contains("is not an ORC struct type"));
        assert!(with("size:bigint", "size").contains("cannot read the column \"size\""));
        assert!(
            with("e_tag:string", "e_tag:map<string,string>").contains("nested or parameterised")
        );
    }

    #[test]
    fn bad_manifests_say_why() {
        let with = |from: &str, to: &str| {
            Manifest::parse(CSV_MANIFEST.replacen(from, to, 1).as_bytes()).unwrap_err()
        };
        assert!(with("\"CSV\"", "\"Avro\"").contains("unknown fileFormat \"Avro\""));
        // A CSV column list is no ORC struct type.
        assert!(with("\"CSV\"", "\"ORC\"").contains("is not an ORC struct type"));
        assert!(with(", EncryptionStatus", "").contains("no EncryptionStatus column"));
        assert!(with("ETag", "Etag").contains("\"Etag\" that S3 Inventory does not document"));
        assert!(with("ETag", "Key").contains("\"Key\" twice"));
        assert!(with("1514944800000", "yesterday").contains("not epoch milliseconds"));
        assert!(with("f11166069f1990abeb9c97ace9cdfabc", "f1").contains("not an MD5"));
        assert!(
            Manifest::parse(b"{}")
                .unwrap_err()
                .contains("not an S3 Inventory manifest")
        );
    }
}
