//! `scan --metadata-table LOCATION`: a bucket's objects counted from its S3 Metadata live
//! inventory table instead of a listing and a HEAD per object.
//!
//! The live inventory table is an Apache Iceberg table that S3 keeps current (within the
//! hour) with one row per object version. Its columns are documented in the S3 User Guide,
//! "S3 Metadata live inventory tables schema"
//! (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/metadata-tables-inventory-schema.html>):
//! `bucket`, `key`, `sequence_number`, `version_id`, `is_delete_marker`, `size`,
//! `last_modified_date`, `e_tag`, `storage_class`, `is_multipart`, `encryption_status`,
//! `is_bucket_key_enabled`, `kms_key_arn`, `checksum_algorithm`, `object_tags`,
//! `user_metadata`. There is no is-latest column: the current version of a key is its row
//! with the lexicographically greatest `sequence_number`, a delete marker there means no
//! current object, and the key's other rows are noncurrent versions (see [`latest`], which
//! also says what the per-key state costs in memory). A null `encryption_status` is an
//! unencrypted object (AWS's sample query filters these rows out; they are counted here),
//! an unknown value is `unknown`, never encrypted. `kms_key_arn` fills the per-key counts,
//! so OBJ-003 and OBJ-004 judge the keys as they do for HEADs.
//!
//! LOCATION is the table's metadata file (`…/metadata/NNNNN-uuid.metadata.json`), local or
//! `s3://`. The reader follows the Iceberg table spec by hand: the current snapshot
//! ([`table`]) → its manifest list → its manifests ([`avro`]: DELETED entries skipped, delete
//! files refused, as merge-on-read deletes would have to be applied) → the Parquet data
//! files ([`rows`]: eight columns projected, a batch at a time, decoded in parallel). The
//! `iceberg` crate would do the same through Arrow, DataFusion-era dependencies and an object
//! store, hundreds of crates and minutes of CI build for what is four file formats' worth of
//! reading here; apache-avro (manifests) and the parquet crate already used for S3 Inventory
//! are enough.
//!
//! Paths inside a table are absolute (`s3://…`, `file://…`). For a table given as a local
//! file, a path that does not exist locally is looked up relative to the table's root (the
//! directory above `metadata/`) by its part after the table's `location`: a table copied
//! down with `aws s3 sync s3://…/TABLE ./TABLE` reads as it is. Every data file's size is
//! checked against the manifest's `file_size_in_bytes`.
//!
//! Any bad input (a missing metadata file, manifest or data file, a truncated Avro or
//! Parquet file, a missing column, delete files) is one line naming the file: the scan stops
//! with exit 2 and nothing from the table is reported.

mod avro;
pub mod catalog;
mod columns;
mod latest;
mod rows;
mod table;

use std::collections::HashMap;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use futures::StreamExt;

use super::clients::Clients;
use super::inventory;
use crate::model::{ObjectSource, ObjectSummary};
use latest::Latest;
use table::TableMetadata;

/// Largest metadata file read whole (AWS's are kilobytes to a few megabytes).
const MAX_METADATA_BYTES: u64 = 64 << 20;

/// Why a metadata table cannot be used: one line, naming the table or the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TableError(pub String);

fn err(what: impl std::fmt::Display, why: impl std::fmt::Display) -> TableError {
    TableError(format!("{what}: {why}"))
}

impl From<inventory::InventoryError> for TableError {
    fn from(e: inventory::InventoryError) -> Self {
        TableError(e.0)
    }
}

/// What the reader needs from the scan.
#[derive(Debug, Clone)]
pub struct TableSettings {
    /// `--prefix`: rows whose key does not start with it are not counted.
    pub prefix: Option<String>,
    /// Data files decoded at once.
    pub parallel: usize,
}

/// A table read whole: its bucket and the objects it records.
#[derive(Debug)]
pub struct Loaded {
    /// The bucket every row names.
    pub bucket: String,
    /// `by_key` and `key_samples` are keyed by the `kms_key_arn`s as the table writes them:
    /// the scan resolves them to key records.
    pub summary: ObjectSummary,
}

/// Where a table's files are.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Location {
    S3 { bucket: String, key: String },
    Local(PathBuf),
}

impl Location {
    fn parse(spec: &str) -> Result<Self, TableError> {
        if catalog::table_bucket_region(spec).is_some() {
            return Err(err(
                format!("--metadata-table {spec}"),
                "a table bucket's ARN is read through the S3 Tables API, which this scan does not call",
            ));
        }
        if spec.starts_with("arn:") {
            return Err(err(
                format!("--metadata-table {spec}"),
                "not an S3 Tables table bucket ARN (arn:PARTITION:s3tables:REGION:ACCOUNT:bucket/NAME, such as S3 Metadata's aws-s3): give that, or a table's metadata.json as s3:// or a local path",
            ));
        }
        if spec.is_empty() {
            return Err(TableError(
                "--metadata-table needs a metadata.json path or s3:// URL".to_string(),
            ));
        }
        Ok(match split_s3(spec) {
            Some((bucket, key)) => Location::S3 { bucket, key },
            None if spec.starts_with("s3://") => {
                return Err(err(
                    format!("--metadata-table {spec}"),
                    "expected s3://BUCKET/KEY of a metadata.json",
                ));
            }
            None => Location::Local(PathBuf::from(spec.strip_prefix("file://").unwrap_or(spec))),
        })
    }
}

/// `s3://bucket/key` (or `s3a://`, `s3n://`, as Hadoop-era writers spell it).
fn split_s3(uri: &str) -> Option<(String, String)> {
    let rest = ["s3://", "s3a://", "s3n://"]
        .iter()
        .find_map(|scheme| uri.strip_prefix(scheme))?;
    match rest.split_once('/') {
        Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => {
            Some((bucket.to_string(), key.to_string()))
        }
        _ => None,
    }
}

/// Reads the table at `spec` and counts its current snapshot's rows.
/// `clients` is `None` under `--offline`: only a local table can be read then.
pub async fn load(
    clients: Option<&Clients>,
    spec: &str,
    settings: &TableSettings,
) -> Result<Loaded, TableError> {
    let what = format!("metadata table {spec}");
    let location = Location::parse(spec)?;
    let mut store = match (&location, clients) {
        (Location::S3 { .. }, None) => {
            return Err(err(
                &what,
                "--offline makes no AWS call, so an s3:// table cannot be read: copy it with aws s3 sync and give the local metadata.json",
            ));
        }
        (Location::S3 { .. }, Some(clients)) => Store::S3 {
            clients,
            s3: HashMap::new(),
        },
        (Location::Local(path), _) => Store::Local {
            // …/TABLE/metadata/NNNNN.metadata.json → …/TABLE
            root: path
                .parent()
                .and_then(Path::parent)
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from(".")),
        },
    };
    let text = match &location {
        Location::S3 { bucket, key } => {
            let s3 = store.client(bucket).await?;
            inventory::get_small(&s3, bucket, key, spec).await?
        }
        Location::Local(path) => read_metadata(path).map_err(|e| err(&what, e))?,
    };
    let table = TableMetadata::parse(&text).map_err(|e| err(&what, e))?;

    store.prepare(&table.manifest_list).await?;
    let list = store.fetch(&table, &table.manifest_list, None).await?;
    let manifests = read_avro(&list, avro::manifest_list)?;
    let mut files = Vec::new();
    for path in &manifests {
        store.prepare(path).await?;
        let manifest = store.fetch(&table, path, None).await?;
        files.extend(read_avro(&manifest, avro::manifest)?);
    }
    for file in &files {
        store.prepare(&file.path).await?;
    }

    let store = &store;
    let table_ref = &table;
    let mut results: Vec<(usize, Result<Latest, TableError>)> =
        futures::stream::iter(files.iter().enumerate())
            .map(|(i, file)| {
                let prefix = settings.prefix.clone();
                async move {
                    let result = async {
                        let local = store.fetch(table_ref, &file.path, Some(file.size)).await?;
                        let ids = table_ref.field_ids;
                        tokio::task::spawn_blocking(move || {
                            let mut latest = Latest::new();
                            rows::decode(&local.path, &ids, prefix.as_deref(), &mut latest)
                                .map_err(|e| {
                                    err(format!("metadata table file {}", local.name), e)
                                })?;
                            Ok(latest)
                        })
                        .await
                        .map_err(|e| TableError(format!("decoding {}: {e}", file.path)))?
                    }
                    .await;
                    (i, result)
                }
            })
            .buffer_unordered(settings.parallel.max(1))
            .collect()
            .await;
    // Merged in manifest order, the first error in that order reported, so the same table
    // gives the same summary and the same message on every run.
    results.sort_by_key(|(i, _)| *i);
    let mut all = Latest::new();
    for (i, result) in results {
        all.merge(result?)
            .map_err(|e| err(format!("metadata table file {}", files[i].path), e))?;
    }
    let bucket = all.bucket().map(str::to_string).ok_or_else(|| {
        err(
            &what,
            "its current snapshot has no rows: which bucket it inventories cannot be told",
        )
    })?;
    let (mut summary, kms_objects_without_key) = all.finish();
    summary.source = Some(ObjectSource::MetadataTable {
        table: spec.to_string(),
        as_of: table.as_of,
        snapshot_id: table.snapshot_id,
        data_files: files.len(),
        kms_objects_without_key,
    });
    Ok(Loaded { bucket, summary })
}

fn read_avro<T>(
    file: &Fetched,
    parse: fn(std::io::BufReader<std::fs::File>) -> Result<T, String>,
) -> Result<T, TableError> {
    let label = format!("metadata table file {}", file.name);
    let opened = std::fs::File::open(&file.path).map_err(|e| err(&label, e))?;
    parse(std::io::BufReader::new(opened)).map_err(|e| err(&label, e))
}

fn read_metadata(path: &Path) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    file.take(MAX_METADATA_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_METADATA_BYTES {
        return Err("larger than any table metadata file (64 MiB)".to_string());
    }
    Ok(bytes)
}

/// A file of the table on local disk; a downloaded one is removed when this is dropped.
struct Fetched {
    path: PathBuf,
    /// How the file is named in messages: its URI as the table writes it.
    name: String,
    _temp: Option<tempfile::TempPath>,
}

enum Store<'a> {
    S3 {
        clients: &'a Clients,
        /// One client per bucket the table's files are in (usually one).
        s3: HashMap<String, aws_sdk_s3::Client>,
    },
    Local {
        root: PathBuf,
    },
}

impl Store<'_> {
    /// Makes the client for the bucket `uri` is in, before files are fetched in parallel.
    async fn prepare(&mut self, uri: &str) -> Result<(), TableError> {
        if let (Store::S3 { .. }, Some((bucket, _))) = (&*self, split_s3(uri)) {
            self.client(&bucket).await?;
        }
        Ok(())
    }

    async fn client(&mut self, bucket: &str) -> Result<aws_sdk_s3::Client, TableError> {
        let Store::S3 { clients, s3 } = self else {
            return Err(TableError(format!("no S3 client for bucket {bucket}")));
        };
        if let Some(c) = s3.get(bucket) {
            return Ok(c.clone());
        }
        let c = inventory::destination_client(clients, bucket).await;
        s3.insert(bucket.to_string(), c.clone());
        Ok(c)
    }

    /// The file at `uri` on local disk (downloaded if the table is in S3), its size checked
    /// against `size` when the manifest states one.
    async fn fetch(
        &self,
        table: &TableMetadata,
        uri: &str,
        size: Option<u64>,
    ) -> Result<Fetched, TableError> {
        let label = format!("metadata table file {uri}");
        match self {
            Store::S3 { clients, s3 } => {
                let (bucket, key) = split_s3(uri)
                    .ok_or_else(|| err(&label, "not an s3:// location, in a table read from S3"))?;
                let client = match s3.get(&bucket) {
                    Some(c) => c.clone(),
                    None => inventory::destination_client(clients, &bucket).await,
                };
                let (path, got, _) =
                    inventory::download_to_temp(&client, &bucket, &key, &label).await?;
                check_size(&label, got, size)?;
                Ok(Fetched {
                    path: path.to_path_buf(),
                    name: uri.to_string(),
                    _temp: Some(path),
                })
            }
            Store::Local { root } => {
                let path = locate(root, &table.location, uri).ok_or_else(|| {
                    err(
                        &label,
                        format!(
                            "missing: not found as written nor under the table's directory {}",
                            root.display()
                        ),
                    )
                })?;
                let got = std::fs::metadata(&path).map_err(|e| err(&label, e))?.len();
                check_size(&label, got, size)?;
                Ok(Fetched {
                    path,
                    name: uri.to_string(),
                    _temp: None,
                })
            }
        }
    }
}

fn check_size(label: &str, got: u64, expected: Option<u64>) -> Result<(), TableError> {
    match expected {
        Some(n) if n != got => Err(err(
            label,
            format!("{got} bytes, the manifest says {n}: truncated or not the file it lists"),
        )),
        _ => Ok(()),
    }
}

/// A file of a local table: as written (`file://` or a plain path) when it exists, else its
/// part after the table's `location` under the table's root directory. The relative part
/// may not climb out of the root.
fn locate(root: &Path, location: &str, uri: &str) -> Option<PathBuf> {
    let written = uri.strip_prefix("file://").unwrap_or(uri);
    if !uri.contains("://") || uri.starts_with("file://") {
        let path = PathBuf::from(written);
        if path.is_file() {
            return Some(path);
        }
    }
    let relative = Path::new(uri.strip_prefix(location)?.trim_start_matches('/'));
    if relative.as_os_str().is_empty()
        || relative
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
    {
        return None;
    }
    let path = root.join(relative);
    path.is_file().then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse() {
        assert_eq!(
            Location::parse("s3://b/t/metadata/00001-x.metadata.json").unwrap(),
            Location::S3 {
                bucket: "b".into(),
                key: "t/metadata/00001-x.metadata.json".into()
            }
        );
        assert_eq!(
            Location::parse("file:///t/metadata/m.json").unwrap(),
            Location::Local("/t/metadata/m.json".into())
        );
        assert!(Location::parse("s3://b").is_err());
        assert!(Location::parse("").is_err());
        // A table bucket's ARN is expanded through the S3 Tables API before any parse; one
        // that gets here has no client to do it with (never a path).
        let e =
            Location::parse("arn:aws:s3tables:us-east-1:111122223333:bucket/aws-s3").unwrap_err();
        assert!(e.0.contains("read through the S3 Tables API"), "{e}");
        let e = Location::parse("arn:aws:s3tables:us-east-1:111122223333:bucket/aws-s3/table/t")
            .unwrap_err();
        assert!(e.0.contains("not an S3 Tables table bucket ARN"), "{e}");
        assert_eq!(
            split_s3("s3a://b/k/x.parquet"),
            Some(("b".into(), "k/x.parquet".into()))
        );
    }

    #[test]
    fn a_synced_table_is_read_relative_to_its_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("t");
        std::fs::create_dir_all(root.join("data")).unwrap();
        std::fs::write(root.join("data/f.parquet"), b"x").unwrap();
        std::fs::write(dir.path().join("secret"), b"x").unwrap();
        let loc = "s3://bucket--table-s3/t";
        assert_eq!(
            locate(&root, loc, "s3://bucket--table-s3/t/data/f.parquet"),
            Some(root.join("data/f.parquet"))
        );
        // As written, when it exists.
        let abs = root.join("data/f.parquet");
        let uri = format!("file://{}", abs.display());
        assert_eq!(locate(&root, "file:///elsewhere", &uri), Some(abs));
        // Never outside the root, never another table's file.
        assert_eq!(
            locate(&root, loc, "s3://bucket--table-s3/t/../secret"),
            None
        );
        assert_eq!(locate(&root, loc, "s3://other/t/data/f.parquet"), None);
        assert_eq!(
            locate(&root, loc, "s3://bucket--table-s3/t/data/none.parquet"),
            None
        );
    }
}
