//! `scan --inventory MANIFEST`: a bucket's objects counted from an S3 Inventory report
//! instead of a listing and a HEAD per object.
//!
//! S3 Inventory writes, per delivery, a `manifest.json` (its fields as AWS documents them in
//! the S3 User Guide, "Locating your inventory list": `sourceBucket`, `destinationBucket`,
//! `version`, `creationTimestamp` in epoch milliseconds, `fileFormat`, `fileSchema`, and
//! `files`, each with `key`, `size` and `MD5checksum`), a sibling `manifest.checksum` holding
//! the MD5 of `manifest.json`, and the data files in the destination bucket. The columns and
//! their values are documented in "Amazon S3 Inventory list": `EncryptionStatus` is
//! `NOT-SSE`, `SSE-S3`, `SSE-KMS`, `DSSE-KMS` or `SSE-C`; `IsLatest` and `IsDeleteMarker`
//! appear when the inventory lists all versions; CSV keys are URL-encoded (Parquet and ORC
//! keys are not).
//!
//! Everything is verified before it is counted: the manifest against `manifest.checksum`,
//! each file against its size and `MD5checksum` (a file from S3 while it is downloaded to a
//! temporary file, a local one in a first streaming pass), and every row against the schema.
//! Any mismatch is bad input: the scan stops with one line naming the file (exit 2), and no
//! count from it reaches a report. Files are decoded in parallel (a bounded number at once,
//! each on a blocking thread) and streaming: a CSV.gz is read row by row through the
//! decompressor, a Parquet file one row-group batch at a time, an ORC file one stripe and
//! one batch at a time, so memory does not grow with the file.

mod batch;
mod csv;
mod manifest;
mod orc;
mod parquet;
pub(crate) mod tally;
pub mod verify;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::StreamExt;
use md5::{Digest, Md5};

pub use manifest::{Manifest, ManifestFile};
pub use tally::Picked;
use tally::{Sample, Tally};

use super::clients::Clients;
use super::errors::CallFailure;
use crate::model::{ObjectSource, ObjectSummary};

/// Largest `manifest.json` read (AWS's are kilobytes: one entry per data file).
const MAX_MANIFEST_BYTES: u64 = 64 << 20;

/// Why an inventory cannot be used: one line, naming the manifest or the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InventoryError(pub String);

fn err(what: impl std::fmt::Display, why: impl std::fmt::Display) -> InventoryError {
    InventoryError(format!("{what}: {why}"))
}

/// Where a manifest (and so its data files) lives.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Location {
    S3 { bucket: String, key: String },
    Local(PathBuf),
}

impl Location {
    fn parse(spec: &str) -> Result<Self, InventoryError> {
        match spec.strip_prefix("s3://") {
            Some(rest) => match rest.split_once('/') {
                Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => Ok(Location::S3 {
                    bucket: bucket.to_string(),
                    key: key.to_string(),
                }),
                _ => Err(err(
                    format!("--inventory {spec}"),
                    "expected s3://BUCKET/KEY of a manifest.json",
                )),
            },
            None if spec.is_empty() => Err(InventoryError(
                "--inventory needs a manifest.json path or s3:// URL".to_string(),
            )),
            None => Ok(Location::Local(PathBuf::from(spec))),
        }
    }
}

/// One manifest, read and verified, with the objects its files list.
#[derive(Debug)]
pub struct Loaded {
    /// The manifest as given on the command line.
    pub spec: String,
    pub manifest: Manifest,
    pub summary: ObjectSummary,
    /// `--verify-sample`: the current objects picked for HEADs, in key order.
    pub sample: Option<Vec<Picked>>,
}

/// Where object counts come from (`--objects-from`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ObjectsFrom {
    /// From a bucket's S3 Inventory when `--inventory` names one, HEADs for the rest.
    #[default]
    Auto,
    /// HEADs for every bucket (no `--inventory` may be given).
    Head,
    /// S3 Inventory only: the objects of a bucket without one are not read, which the
    /// report says (every OBJ rule `error`, the scan incomplete).
    Inventory,
}

/// Why a bucket's objects were not read under `--objects-from inventory`.
pub const NOT_IN_ANY_INVENTORY: &str = "--objects-from inventory, and no --inventory names this bucket (give its manifest, or leave it out with --bucket/--exclude)";

/// What the inventory reader needs from the scan.
#[derive(Debug, Clone)]
pub struct InventorySettings {
    /// `--prefix`: rows whose key does not start with it are not counted, as a HEAD scan
    /// would not list them.
    pub prefix: Option<String>,
    /// Data files decoded at once.
    pub parallel: usize,
    /// `--verify-sample N` and its seed: pick N current objects while decoding.
    pub verify: Option<(usize, u64)>,
    /// `--shard I/N`: decode only the data files this shard owns (by their keys), so every
    /// shard counts its share of one big inventory (`crate::shard`).
    pub shard: Option<crate::shard::Shard>,
}

impl InventorySettings {
    /// `--prefix`, and as many files decoded at once as there are cores (at most 8).
    pub fn new(prefix: Option<String>) -> Self {
        InventorySettings {
            prefix,
            parallel: std::thread::available_parallelism().map_or(2, |n| n.get().min(8)),
            verify: None,
            shard: None,
        }
    }

    /// Whether this run decodes `file` (every file, unless sharded).
    pub fn decodes(&self, file: &ManifestFile) -> bool {
        self.shard.is_none_or(|s| s.owns(&file.key))
    }
}

/// Reads the manifests only (checked against `manifest.checksum`): which bucket each is for,
/// before any data file is fetched, so a manifest for a bucket the scan does not select is
/// refused at once.
///
/// `clients` is `None` under `--offline`: an `s3://` manifest is then refused (the CLI
/// refuses it first; this is the backstop that keeps an offline scan from any AWS call).
pub async fn read_manifests(
    clients: Option<&Clients>,
    specs: &[String],
) -> Result<Vec<(String, Manifest)>, InventoryError> {
    let mut out = Vec::with_capacity(specs.len());
    for spec in specs {
        let location = Location::parse(spec)?;
        let (text, checksum) = match &location {
            Location::S3 { bucket, key } => {
                let s3 = destination_client(online(clients, spec)?, bucket).await;
                let text = get_small(&s3, bucket, key, spec).await?;
                let sibling = sibling_key(key, "manifest.checksum");
                let checksum =
                    get_small(&s3, bucket, &sibling, &format!("s3://{bucket}/{sibling}"))
                        .await
                        .map_err(|e| missing_checksum(spec, e))?;
                (text, checksum)
            }
            Location::Local(path) => {
                let text = read_small(path)?;
                let sibling = path
                    .parent()
                    .unwrap_or_else(|| Path::new("."))
                    .join("manifest.checksum");
                let checksum = read_small(&sibling).map_err(|e| missing_checksum(spec, e))?;
                (text, checksum)
            }
        };
        let expected = String::from_utf8_lossy(&checksum)
            .trim()
            .to_ascii_lowercase();
        let actual = hex(&Md5::digest(&text));
        if expected != actual {
            return Err(err(
                format!("inventory {spec}"),
                format!(
                    "MD5 of manifest.json is {actual}, manifest.checksum says {expected:?}: the manifest is corrupt or not the one the checksum was written for"
                ),
            ));
        }
        let manifest = Manifest::parse(&text).map_err(|e| err(format!("inventory {spec}"), e))?;
        if out
            .iter()
            .any(|(_, m): &(String, Manifest)| m.source_bucket == manifest.source_bucket)
        {
            return Err(err(
                format!("inventory {spec}"),
                format!(
                    "a second manifest for bucket {}: give one --inventory per bucket (its newest delivery)",
                    manifest.source_bucket
                ),
            ));
        }
        out.push((spec.clone(), manifest));
    }
    Ok(out)
}

fn missing_checksum(spec: &str, e: InventoryError) -> InventoryError {
    err(
        format!("inventory {spec}"),
        format!(
            "cannot read the manifest.checksum beside it ({e}): S3 writes one with every manifest.json, and without it the manifest cannot be verified"
        ),
    )
}

/// The scan's clients, or the error an `s3://` inventory gets under `--offline`.
fn online<'a>(clients: Option<&'a Clients>, spec: &str) -> Result<&'a Clients, InventoryError> {
    clients.ok_or_else(|| {
        err(
            format!("inventory {spec}"),
            "--offline reads local inventories only (copy it with aws s3 sync)",
        )
    })
}

/// Refuses a manifest whose source bucket is not one the scan reads (`selected` says):
/// its objects could not be judged with its settings.
pub fn check_sources(
    manifests: &[(String, Manifest)],
    selected: impl Fn(&str) -> bool,
) -> Result<(), InventoryError> {
    for (spec, m) in manifests {
        if !selected(&m.source_bucket) {
            return Err(InventoryError(format!(
                "inventory {spec}: its source bucket {} is not one this scan reads (not in the account, or left out by --bucket/--exclude): its settings could not be judged with its objects",
                m.source_bucket
            )));
        }
    }
    Ok(())
}

/// Reads every data file of `manifest` and counts its rows into one summary (`clients`:
/// as for [`read_manifests`]).
pub async fn load(
    clients: Option<&Clients>,
    spec: String,
    manifest: Manifest,
    settings: &InventorySettings,
) -> Result<Loaded, InventoryError> {
    let location = Location::parse(&spec)?;
    let manifest = Arc::new(manifest);
    let fetcher = match &location {
        Location::S3 { .. } => {
            let bucket = manifest.destination_bucket.clone();
            Fetcher::S3 {
                s3: destination_client(online(clients, &spec)?, &bucket).await,
                bucket,
            }
        }
        Location::Local(path) => Fetcher::Local {
            manifest_dir: path
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from(".")),
        },
    };
    let fetcher = &fetcher;
    let results: Vec<(usize, Result<Tally, InventoryError>)> =
        futures::stream::iter(manifest.files.iter().cloned().enumerate())
            .filter(|(_, file)| std::future::ready(settings.decodes(file)))
            .map(|(i, file)| {
                let manifest = manifest.clone();
                let prefix = settings.prefix.clone();
                let sample = settings.verify.map(|(n, seed)| Sample::new(n, seed));
                async move {
                    let result = async {
                        let local = fetcher.fetch(&file).await?;
                        let name = local.name.clone();
                        tokio::task::spawn_blocking(move || {
                            let tally =
                                decode(&manifest, &local.path, &name, prefix.as_deref(), sample);
                            drop(local);
                            tally
                        })
                        .await
                        .map_err(|e| InventoryError(format!("decoding {}: {e}", file.key)))?
                    }
                    .await;
                    (i, result)
                }
            })
            .buffer_unordered(settings.parallel.max(1))
            .collect()
            .await;
    // Merged in manifest order, and every error reported as the first file's in that order,
    // so the same inventory gives the same summary (and the same message) on every run.
    let mut results = results;
    results.sort_by_key(|(i, _)| *i);
    let mut total = Tally::new(
        &manifest,
        settings.verify.map(|(n, seed)| Sample::new(n, seed)),
    );
    for (_, result) in results {
        total.merge(result?);
    }
    let (mut summary, sample) = total.finish();
    summary.source = Some(ObjectSource::Inventory {
        manifest: spec.clone(),
        as_of: manifest.created,
        format: manifest.format.as_str().to_string(),
        files: manifest.files.len(),
    });
    let manifest = Arc::try_unwrap(manifest).unwrap_or_else(|m| (*m).clone());
    Ok(Loaded {
        spec,
        manifest,
        summary,
        sample,
    })
}

/// Decodes one verified file into its own tally.
fn decode(
    manifest: &Manifest,
    path: &Path,
    name: &str,
    prefix: Option<&str>,
    sample: Option<Sample>,
) -> Result<Tally, InventoryError> {
    let mut tally = Tally::new(manifest, sample);
    let result = match manifest.format {
        manifest::Format::Csv => csv::decode(path, &manifest.columns, prefix, &mut tally),
        manifest::Format::Parquet => parquet::decode(path, &manifest.columns, prefix, &mut tally),
        manifest::Format::Orc => orc::decode(path, &manifest.columns, prefix, &mut tally),
    };
    result.map_err(|e| err(format!("inventory file {name}"), e))?;
    Ok(tally)
}

/// A data file on local disk, verified; a downloaded one is removed when this is dropped.
struct LocalFile {
    path: PathBuf,
    /// How the file is named in messages: its S3 URL or local path.
    name: String,
    _temp: Option<tempfile::TempPath>,
}

enum Fetcher {
    S3 {
        s3: aws_sdk_s3::Client,
        bucket: String,
    },
    Local {
        manifest_dir: PathBuf,
    },
}

impl Fetcher {
    async fn fetch(&self, file: &ManifestFile) -> Result<LocalFile, InventoryError> {
        match self {
            Fetcher::S3 { s3, bucket } => download(s3, bucket, file).await,
            Fetcher::Local { manifest_dir } => {
                let path = locate(manifest_dir, &file.key).ok_or_else(|| {
                    err(
                        format!("inventory file {}", file.key),
                        format!(
                            "missing: not found under {} or any directory above it (copy the destination bucket's files with their keys, e.g. aws s3 sync)",
                            manifest_dir.display()
                        ),
                    )
                })?;
                let name = path.display().to_string();
                let (checked_path, checked_name) = (path.clone(), name.clone());
                let file = file.clone();
                tokio::task::spawn_blocking(move || {
                    let reader = std::fs::File::open(&checked_path)
                        .map_err(|e| err(format!("inventory file {checked_name}"), e))?;
                    verify(reader, &file, &checked_name, &mut std::io::sink())
                })
                .await
                .map_err(|e| InventoryError(format!("verifying {name}: {e}")))??;
                Ok(LocalFile {
                    path,
                    name,
                    _temp: None,
                })
            }
        }
    }
}

/// A data file of a local manifest: its key under the manifest's directory or the nearest
/// directory above it that holds it (the destination bucket copied with its keys), else
/// beside the manifest by file name.
fn locate(manifest_dir: &Path, key: &str) -> Option<PathBuf> {
    let relative = Path::new(key);
    // A key naming a parent directory or a root could point anywhere on the disk.
    if relative
        .components()
        .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return None;
    }
    let mut dir = Some(manifest_dir);
    while let Some(d) = dir {
        let candidate = d.join(relative);
        if candidate.is_file() {
            return Some(candidate);
        }
        dir = d.parent();
    }
    let beside = manifest_dir.join(relative.file_name()?);
    beside.is_file().then_some(beside)
}

/// Copies `reader` to `out` while checking its size and MD5 against the manifest entry.
fn verify(
    mut reader: impl Read,
    file: &ManifestFile,
    name: &str,
    out: &mut dyn Write,
) -> Result<(), InventoryError> {
    let mut md5 = Md5::new();
    let mut size: u64 = 0;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(err(format!("inventory file {name}"), e)),
        };
        md5.update(&buf[..n]);
        size += n as u64;
        out.write_all(&buf[..n]).map_err(|e| {
            err(
                format!("inventory file {name}"),
                format!("cannot store it: {e}"),
            )
        })?;
    }
    check_digest(file, name, size, &md5.finalize())
}

fn check_digest(
    file: &ManifestFile,
    name: &str,
    size: u64,
    digest: &[u8],
) -> Result<(), InventoryError> {
    if let Some(expected) = file.size
        && expected != size
    {
        return Err(err(
            format!("inventory file {name}"),
            format!(
                "{size} bytes, the manifest says {expected}: truncated or not the file it lists"
            ),
        ));
    }
    let actual = hex(digest);
    if actual != file.md5 {
        return Err(err(
            format!("inventory file {name}"),
            format!(
                "MD5 is {actual}, the manifest says {}: the file is corrupt or not the one it lists",
                file.md5
            ),
        ));
    }
    Ok(())
}

/// Downloads a data file to a temporary file, checking its size and MD5 as it streams.
async fn download(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    file: &ManifestFile,
) -> Result<LocalFile, InventoryError> {
    let name = format!("s3://{bucket}/{}", file.key);
    let label = format!("inventory file {name}");
    let (path, size, digest) = download_to_temp(s3, bucket, &file.key, &label).await?;
    check_digest(file, &name, size, &digest)?;
    Ok(LocalFile {
        path: path.to_path_buf(),
        name,
        _temp: Some(path),
    })
}

/// Streams an S3 object to a temporary file (removed when the path is dropped), returning
/// its size and MD5; errors are one line starting with `label`.
pub(crate) async fn download_to_temp(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    label: &str,
) -> Result<(tempfile::TempPath, u64, Vec<u8>), InventoryError> {
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| {
            let f = CallFailure::from_sdk(e);
            match &f {
                CallFailure::Service { status: 404, .. } => err(label, "missing (HTTP 404)"),
                _ => err(label, f),
            }
        })?;
    let temp = tempfile::NamedTempFile::new()
        .map_err(|e| err(label, format!("no temporary file: {e}")))?;
    let (std_file, path) = temp.into_parts();
    let mut writer = std::io::BufWriter::new(std_file);
    let mut body = out.body;
    let mut md5 = Md5::new();
    let mut size: u64 = 0;
    loop {
        match body.try_next().await {
            Ok(Some(chunk)) => {
                md5.update(&chunk);
                size += chunk.len() as u64;
                // Local disk writes of a chunk: short enough not to need a blocking thread.
                writer
                    .write_all(&chunk)
                    .map_err(|e| err(label, format!("cannot store it: {e}")))?;
            }
            Ok(None) => break,
            Err(e) => return Err(err(label, format!("download failed: {e}"))),
        }
    }
    writer
        .flush()
        .map_err(|e| err(label, format!("cannot store it: {e}")))?;
    Ok((path, size, md5.finalize().to_vec()))
}

/// An S3 client for the bucket holding a manifest: its own region where GetBucketLocation
/// answers (an inventory's destination is in the source bucket's region, which need not be
/// the scan's), else the scan's home region.
pub(crate) async fn destination_client(clients: &Clients, bucket: &str) -> aws_sdk_s3::Client {
    let home = clients.s3(&clients.home_region);
    let region = match home.get_bucket_location().bucket(bucket).send().await {
        Ok(out) => match out.location_constraint().map(|c| c.as_str()) {
            None | Some("") => "us-east-1".to_string(),
            Some("EU") => "eu-west-1".to_string(),
            Some(r) => r.to_string(),
        },
        Err(e) => {
            tracing::debug!(
                bucket,
                "bucket region unknown ({}): reading through the home region",
                CallFailure::from_sdk(e)
            );
            clients.home_region.clone()
        }
    };
    clients.s3(&region)
}

/// GetObject of a small object (a manifest or its checksum), whole.
pub(crate) async fn get_small(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    name: &str,
) -> Result<Vec<u8>, InventoryError> {
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| err(name, CallFailure::from_sdk(e)))?;
    if out
        .content_length()
        .is_some_and(|n| n < 0 || n as u64 > MAX_MANIFEST_BYTES)
    {
        return Err(err(name, "larger than any manifest (64 MiB)"));
    }
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|e| err(name, format!("download failed: {e}")))?
        .into_bytes();
    Ok(bytes.to_vec())
}

fn read_small(path: &Path) -> Result<Vec<u8>, InventoryError> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| err(&name, e))?;
    let mut bytes = Vec::new();
    file.take(MAX_MANIFEST_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| err(&name, e))?;
    if bytes.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(err(&name, "larger than any manifest (64 MiB)"));
    }
    Ok(bytes)
}

/// `dir/manifest.json` → `dir/manifest.checksum`.
fn sibling_key(key: &str, name: &str) -> String {
    match key.rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/{name}"),
        None => name.to_string(),
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(32), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse() {
        assert_eq!(
            Location::parse("s3://dest/inv/src/cfg/2026-01-01T00-00Z/manifest.json").unwrap(),
            Location::S3 {
                bucket: "dest".into(),
                key: "inv/src/cfg/2026-01-01T00-00Z/manifest.json".into()
            }
        );
        assert!(Location::parse("s3://dest").is_err());
        assert!(Location::parse("s3:///key").is_err());
        assert!(Location::parse("").is_err());
        assert_eq!(
            Location::parse("x/manifest.json").unwrap(),
            Location::Local("x/manifest.json".into())
        );
        assert_eq!(
            sibling_key("a/b/manifest.json", "manifest.checksum"),
            "a/b/manifest.checksum"
        );
        assert_eq!(
            sibling_key("manifest.json", "manifest.checksum"),
            "manifest.checksum"
        );
    }

    #[test]
    fn a_local_key_never_escapes_upwards() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("secret"), b"x").unwrap();
        let sub = dir.path().join("m");
        std::fs::create_dir(&sub).unwrap();
        assert_eq!(locate(&sub, "../secret"), None);
        assert_eq!(locate(&sub, "/etc/passwd"), None);
        // The nearest directory above that holds the key wins.
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        std::fs::write(dir.path().join("data/f.csv.gz"), b"x").unwrap();
        assert_eq!(
            locate(&sub, "data/f.csv.gz"),
            Some(dir.path().join("data/f.csv.gz"))
        );
    }
}
