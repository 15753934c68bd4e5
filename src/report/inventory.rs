//! The object inventory (`--objects-csv`): one row per object or version, written while
//! the scan runs — the pre-migration inventory. Rows arrive in completion order.
//!
//! Object keys can hold anything UTF-8 (control characters, a leading `=` or `-`), and
//! the inventory has two readers with opposite needs: a migration tool wants the exact key
//! back, a spreadsheet must not run it. So, as S3 Inventory and S3 Batch Operations
//! manifests do, the `key` column is URL-encoded ([`url_encode`]): every byte outside
//! RFC 3986's unreserved set and `/` is percent-encoded, and so is a leading `-`. Any
//! percent-decoder (Python's `urllib.parse.unquote`) gives the exact key back, and the cell
//! never starts with a formula character or holds a control character. `version_id` is
//! encoded the same way (S3's version ids never need it, a hostile endpoint's might).
//!
//! The other text columns (bucket, KMS key, storage class, last-modified, error) are for
//! reading, and go through the spreadsheet neutraliser ([`super::escape`]); a well-formed
//! value comes through unchanged. `is_latest`, `mode`, `bucket_key_enabled` and `size` are
//! written by this code from typed values and cannot carry text from the endpoint.

use std::borrow::Cow;
use std::io::{self, Write};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::escape::spreadsheet_cell;
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

/// Kept as they are: RFC 3986's unreserved characters, and `/`, so a key's "folders" stay
/// readable. Everything else, `%` and `+` included, is encoded: no decoder can misread the
/// cell, whether it decodes `+` as a space (`unquote_plus`) or not (`unquote`).
const KEY_CELL: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// `s` URL-encoded for the inventory: percent-encoded outside [`KEY_CELL`], and a leading
/// `-` (unreserved, but a formula start to a spreadsheet) as `%2D`. The other formula
/// starts (`=`, `+`, `@`, TAB, CR) are never in [`KEY_CELL`]'s kept set, so they are
/// always encoded. Borrowed when nothing needs encoding, which is most keys.
pub fn url_encode(s: &str) -> Cow<'_, str> {
    let encoded: Cow<'_, str> = utf8_percent_encode(s, KEY_CELL).into();
    match encoded.strip_prefix('-') {
        Some(rest) => Cow::Owned(format!("%2D{rest}")),
        None => encoded,
    }
}

/// An optional text column: neutralised, empty when absent.
fn text(v: &Option<String>) -> Cow<'_, str> {
    v.as_deref().map(spreadsheet_cell).unwrap_or_default()
}

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
        let typed = |v: Option<String>| Cow::Owned(v.unwrap_or_default());
        let cells = [
            spreadsheet_cell(&r.bucket),
            url_encode(&r.key),
            r.version_id.as_deref().map(url_encode).unwrap_or_default(),
            Cow::Borrowed(if r.is_latest { "true" } else { "false" }),
            Cow::Borrowed(r.mode.map_or("unreadable", |m| m.as_str())),
            text(&r.kms_key),
            typed(r.bucket_key_enabled.map(|b| b.to_string())),
            typed(r.size.map(|s| s.to_string())),
            text(&r.storage_class),
            text(&r.last_modified),
            text(&r.error),
        ];
        w.write_record(cells.iter().map(|c| c.as_bytes()))?;
        n += 1;
    }
    w.flush()?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SseMode;
    use percent_encoding::percent_decode_str;
    use proptest::prelude::*;

    fn record(key: &str, version_id: Option<&str>) -> ObjectRecord {
        ObjectRecord {
            bucket: "inventoried".into(),
            key: key.into(),
            version_id: version_id.map(str::to_string),
            is_latest: true,
            mode: Some(SseMode::SseKms),
            kms_key: Some("=HYPERLINK(\"http://evil.example\")".into()),
            bucket_key_enabled: Some(true),
            size: Some(-1),
            storage_class: Some("@SUM(1)\x1b[2J".into()),
            last_modified: Some("2024-01-02T03:04:05Z".into()),
            error: Some("+cmd\r\u{202e}".into()),
        }
    }

    fn write(records: Vec<ObjectRecord>) -> (u64, String) {
        let (tx, rx) = tokio::sync::mpsc::channel(records.len().max(1));
        for r in records {
            tx.blocking_send(r).unwrap();
        }
        drop(tx);
        let mut out = Vec::new();
        let n = write_inventory(rx, &mut out).unwrap();
        (n, String::from_utf8(out).unwrap())
    }

    fn decode(cell: &str) -> String {
        percent_decode_str(cell).decode_utf8().unwrap().into_owned()
    }

    const HOSTILE_KEYS: &[&str] = &[
        "=HYPERLINK(\"http://evil.example\",\"x\")",
        "+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(1)",
        "\t=1+1",
        "\r=1+1",
        "\x1b]0;pwned\x07\x1b[2J",
        "invoice\u{202e}fdp.exe",
        "line\nfeed",
        "100% plus+space ,\"quoted\";",
        "folder/sub/caf\u{e9} \u{1f600}.txt",
        "%2D already-encoded-looking",
        "",
    ];

    #[test]
    fn hostile_keys_decode_back_exactly_and_never_start_a_formula() {
        let records = HOSTILE_KEYS
            .iter()
            .map(|k| record(k, Some(k)))
            .collect::<Vec<_>>();
        let (n, csv) = write(records);
        assert_eq!(n, HOSTILE_KEYS.len() as u64);
        // One line per row: nothing in a cell needs quoting across lines.
        assert_eq!(csv.lines().count(), 1 + HOSTILE_KEYS.len(), "{csv}");
        let mut rdr = csv::Reader::from_reader(csv.as_bytes());
        assert_eq!(rdr.headers().unwrap(), &HEADER[..]);
        let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
        for (row, key) in rows.iter().zip(HOSTILE_KEYS) {
            assert_eq!(decode(&row[1]), *key, "key cell {:?}", &row[1]);
            assert_eq!(decode(&row[2]), *key, "version_id cell {:?}", &row[2]);
            for cell in row.iter() {
                assert!(
                    !cell.starts_with(['=', '+', '@', '\t', '\r']),
                    "{cell:?} in {row:?}"
                );
                assert!(
                    !cell.chars().any(crate::report::escape::is_hidden),
                    "{cell:?} in {row:?}"
                );
            }
            // The only cell allowed a leading `-` is the number this code wrote.
            for (i, cell) in row.iter().enumerate() {
                assert!(i == 7 || !cell.starts_with('-'), "{cell:?} in {row:?}");
            }
            assert_eq!(&row[5], "'=HYPERLINK(\"http://evil.example\")");
            assert_eq!(&row[7], "-1");
            assert_eq!(&row[8], r"'@SUM(1)\x1b[2J");
            assert_eq!(&row[9], "2024-01-02T03:04:05Z");
            assert_eq!(&row[10], r"'+cmd\r\u{202e}");
        }
        assert_eq!(&rows[2][1], "%2D2%2B3");
        assert_eq!(&rows[10][1], "folder/sub/caf%C3%A9%20%F0%9F%98%80.txt");
    }

    #[test]
    fn ordinary_keys_and_missing_values() {
        assert!(matches!(
            url_encode("data/2024/part-0001.parquet"),
            Cow::Borrowed("data/2024/part-0001.parquet")
        ));
        assert_eq!(url_encode("a b+c"), "a%20b%2Bc");
        let mut r = record("k", None);
        r.mode = None;
        r.kms_key = None;
        r.size = None;
        let (_, csv) = write(vec![r]);
        let row = csv.lines().nth(1).unwrap();
        assert!(
            row.starts_with("inventoried,k,,true,unreadable,,true,,"),
            "{row}"
        );
    }

    proptest! {
        /// Any key comes back exactly, in a cell that starts no formula and is one line.
        #[test]
        fn any_key_round_trips(key in any::<String>()) {
            let cell = url_encode(&key);
            prop_assert_eq!(decode(&cell), key.clone());
            prop_assert!(!cell.starts_with(['=', '+', '-', '@', '\t', '\r']));
            prop_assert!(cell.bytes().all(|b| b.is_ascii_graphic()), "{:?}", cell);
            prop_assert!(!cell.contains('+'), "{:?}: `+` would decode as a space for some", cell);
        }
    }
}
