//! CSV.gz inventory files: gzip (possibly several members) of headerless CSV, one row per
//! object or version, the columns in `fileSchema` order. Read one record at a time through
//! the decompressor; the record buffer is reused, so memory does not grow with the file.

use std::borrow::Cow;
use std::io::BufReader;
use std::path::Path;

use flate2::read::MultiGzDecoder;

use super::manifest::{Columns, Field};
use super::tally::{Row, Tally};

pub fn decode(
    path: &Path,
    columns: &Columns,
    prefix: Option<&str>,
    tally: &mut Tally,
) -> Result<(), String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let gz = MultiGzDecoder::new(BufReader::with_capacity(1 << 16, file));
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(1 << 16)
        .from_reader(gz);
    let mut record = ::csv::ByteRecord::new();
    let mut line: u64 = 0;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                return Err(match e.kind() {
                    ::csv::ErrorKind::Io(io) => format!("truncated or corrupt gzip: {io}"),
                    _ => format!("row {}: not CSV: {e}", line + 1),
                });
            }
        }
        line += 1;
        if record.len() != columns.count {
            return Err(format!(
                "row {line} has {} values, fileSchema names {} columns",
                record.len(),
                columns.count
            ));
        }
        let text = |field: Field| -> Result<Option<&str>, String> {
            match columns.position(field) {
                None => Ok(None),
                Some(i) => std::str::from_utf8(&record[i])
                    .map(Some)
                    .map_err(|_| format!("row {line}: {} is not UTF-8", field.csv_name())),
            }
        };
        let raw_key = text(Field::Key)?.unwrap_or_default();
        let key = decode_key(raw_key).map_err(|e| format!("row {line}: Key {raw_key:?}: {e}"))?;
        let row = Row {
            bucket: text(Field::Bucket)?.unwrap_or_default(),
            key: &key,
            version_id: text(Field::VersionId)?.filter(|s| !s.is_empty()),
            is_latest: boolean(text(Field::IsLatest)?, "IsLatest", line)?,
            is_delete_marker: boolean(text(Field::IsDeleteMarker)?, "IsDeleteMarker", line)?,
            size: match text(Field::Size)?.filter(|s| !s.is_empty()) {
                None => None,
                Some(s) => Some(
                    s.parse::<u64>()
                        .map_err(|_| format!("row {line}: Size {s:?} is not a size"))?,
                ),
            },
            encryption_status: text(Field::EncryptionStatus)?,
        };
        tally
            .add(&row, prefix)
            .map_err(|e| format!("row {line}: {e}"))?;
    }
    Ok(())
}

/// `true`/`false` in any case (AWS writes lowercase; its documentation shows uppercase);
/// empty is unstated.
fn boolean(value: Option<&str>, name: &str, line: u64) -> Result<Option<bool>, String> {
    match value {
        None | Some("") => Ok(None),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(v) => Err(format!("row {line}: {name} is {v:?}, not true or false")),
    }
}

/// A CSV inventory's key is URL-encoded as a form value: `+` is a space and `%2B` a plus
/// (Python's `unquote_plus`). The decoded bytes must be UTF-8, as every S3 key is.
fn decode_key(raw: &str) -> Result<Cow<'_, str>, String> {
    if !raw.contains(['+', '%']) {
        return Ok(Cow::Borrowed(raw));
    }
    let spaced = raw.replace('+', " ");
    let bytes: Vec<u8> = percent_encoding::percent_decode_str(&spaced).collect();
    String::from_utf8(bytes)
        .map(Cow::Owned)
        .map_err(|_| "decodes to bytes that are not UTF-8".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_decode_as_s3_inventory_encodes_them() {
        assert_eq!(decode_key("plain/key.txt").unwrap(), "plain/key.txt");
        assert_eq!(decode_key("a+b").unwrap(), "a b");
        assert_eq!(decode_key("a%2Bb").unwrap(), "a+b");
        assert_eq!(decode_key("caf%C3%A9%20x").unwrap(), "café x");
        assert!(decode_key("%FF").is_err());
    }

    #[test]
    fn booleans_are_true_false_or_unstated() {
        assert_eq!(boolean(Some("true"), "IsLatest", 1), Ok(Some(true)));
        assert_eq!(boolean(Some("FALSE"), "IsLatest", 1), Ok(Some(false)));
        assert_eq!(boolean(Some(""), "IsLatest", 1), Ok(None));
        assert!(boolean(Some("yes"), "IsLatest", 1).is_err());
    }
}
