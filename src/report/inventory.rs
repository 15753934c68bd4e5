//! The object inventory (`--objects-csv`): one row per object or version, written while
//! the scan runs — the pre-migration inventory. Rows arrive in completion order.

use std::io::{self, Write};

use crate::model::ObjectRecord;

pub const HEADER: [&str; 11] = [
    "bucket",
    "key",
    "version_id",
    "is_latest",
    "mode",
    "kms_key_arn",
    "bucket_key_enabled",
    "size",
    "storage_class",
    "last_modified",
    "error",
];

/// Writes records until the channel closes; returns how many were written. Runs on its own
/// thread so disk writes never stall the scan's async workers.
pub fn write_inventory(
    mut records: tokio::sync::mpsc::Receiver<ObjectRecord>,
    out: &mut dyn Write,
) -> io::Result<u64> {
    let mut w = csv::Writer::from_writer(io::BufWriter::with_capacity(1 << 16, out));
    w.write_record(HEADER)?;
    let mut n = 0;
    while let Some(r) = records.blocking_recv() {
        let opt = |v: Option<String>| v.unwrap_or_default();
        w.write_record([
            r.bucket,
            r.key,
            opt(r.version_id),
            r.is_latest.to_string(),
            r.mode
                .map(|m| m.as_str().to_string())
                .unwrap_or_else(|| "unreadable".to_string()),
            opt(r.kms_key),
            opt(r.bucket_key_enabled.map(|b| b.to_string())),
            opt(r.size.map(|s| s.to_string())),
            opt(r.storage_class),
            opt(r.last_modified),
            opt(r.error),
        ])?;
        n += 1;
    }
    w.flush()?;
    Ok(n)
}
