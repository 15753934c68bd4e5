//! ORC inventory files, through orc-rust's Arrow reader: only the columns the counts use are
//! projected, and the file is decoded one stripe at a time, a batch of rows at a time, so
//! memory holds one stripe's projected streams and one batch, not the file. ORC keys are
//! written as they are (only CSV inventories URL-encode them).

use std::cell::Cell;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::Once;

use orc_rust::ArrowReaderBuilder;
use orc_rust::projection::ProjectionMask;
use orc_rust::schema::{DataType, RootDataType};

use super::batch::{BATCH, add_batches};
use super::manifest::{Columns, Field};
use super::tally::Tally;

pub fn decode(
    path: &Path,
    columns: &Columns,
    prefix: Option<&str>,
    tally: &mut Tally,
) -> Result<(), String> {
    contained(|| read(path, columns, prefix, tally))
}

thread_local! {
    /// Set while this thread runs the ORC reader: a panic there is reported as the file's
    /// error, not printed.
    static IN_READER: Cell<bool> = const { Cell::new(false) };
}

/// Runs the ORC reader with its panics turned into the file's error. orc-rust asserts on
/// some malformed input (a footer whose root type is not a struct, say) instead of
/// returning an error; a file that passed its MD5 check is what S3 wrote, so this is for a
/// bad writer or a manifest rewritten with its files, and it must still be one line and
/// exit 2, not a panic message. The process's panic hook is wrapped once to stay silent on
/// the reader's threads only.
fn contained(run: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_READER.with(Cell::get) {
                previous(info);
            }
        }));
    });
    IN_READER.with(|f| f.set(true));
    let result = std::panic::catch_unwind(AssertUnwindSafe(run));
    IN_READER.with(|f| f.set(false));
    result.unwrap_or_else(|payload| {
        let why = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_string());
        Err(format!(
            "not a readable ORC file (the ORC reader gave up: {})",
            why.lines().next().unwrap_or_default()
        ))
    })
}

fn read(
    path: &Path,
    columns: &Columns,
    prefix: Option<&str>,
    tally: &mut Tally,
) -> Result<(), String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let builder = ArrowReaderBuilder::try_new(file)
        .map_err(|e| format!("not a readable ORC file (truncated or corrupt tail?): {e}"))?;
    let used: Vec<Field> = Field::ALL
        .into_iter()
        .filter(|f| columns.position(*f).is_some())
        .collect();
    check_schema(builder.file_metadata().root_data_type(), &used)?;
    let names: Vec<&str> = used.iter().map(|f| f.column_name()).collect();
    let projection = ProjectionMask::named_roots(builder.file_metadata().root_data_type(), &names);
    let reader = builder
        .with_projection(projection)
        .with_batch_size(BATCH)
        .build();
    add_batches(reader, prefix, tally)
}

/// The ORC type each used column must have, by its Hive name (as `fileSchema` spells it),
/// and whether a file's type is it (a string may be stored as varchar or char: the same
/// UTF-8 values).
fn expected(field: Field, t: &DataType) -> (&'static str, bool) {
    match field {
        Field::IsLatest | Field::IsDeleteMarker => {
            ("boolean", matches!(t, DataType::Boolean { .. }))
        }
        Field::Size => ("bigint", matches!(t, DataType::Long { .. })),
        _ => (
            "string",
            matches!(
                t,
                DataType::String { .. } | DataType::Varchar { .. } | DataType::Char { .. }
            ),
        ),
    }
}

/// An ORC type's Hive name (the spelling of `fileSchema` and of ORC's own tools).
fn hive_name(t: &DataType) -> String {
    match t {
        DataType::Boolean { .. } => "boolean".into(),
        DataType::Byte { .. } => "tinyint".into(),
        DataType::Short { .. } => "smallint".into(),
        DataType::Int { .. } => "int".into(),
        DataType::Long { .. } => "bigint".into(),
        DataType::String { .. } => "string".into(),
        DataType::Binary { .. } => "binary".into(),
        other => other.to_string().to_ascii_lowercase(),
    }
}

/// Every column the manifest names and the counts use is in the file, top level, with its
/// documented type.
fn check_schema(root: &RootDataType, used: &[Field]) -> Result<(), String> {
    for &field in used {
        let name = field.column_name();
        let column = root
            .children()
            .iter()
            .find(|c| c.name() == name)
            .ok_or_else(|| format!("no column {name}, which the manifest's fileSchema names"))?;
        let t = column.data_type();
        let (wanted, fits) = expected(field, t);
        if !fits {
            return Err(format!(
                "column {name} is {}, expected {wanted}",
                hive_name(t)
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray};
    use orc_rust::ArrowWriterBuilder;

    use super::super::manifest::Manifest;
    use super::*;

    /// A manifest of an ORC inventory with `schema`, for its columns and source bucket.
    fn manifest(schema: &str) -> Manifest {
        let json = serde_json::json!({
            "sourceBucket": "b",
            "destinationBucket": "arn:aws:s3:::dest",
            "creationTimestamp": "1514944800000",
            "fileFormat": "ORC",
            "fileSchema": schema,
            "files": [],
        });
        Manifest::parse(json.to_string().as_bytes()).unwrap()
    }

    const SCHEMA: &str = "struct<bucket:string,key:string,version_id:string,is_latest:boolean,is_delete_marker:boolean,size:bigint,e_tag:string,encryption_status:string>";

    /// Writes `columns` as an ORC file with orc-rust's own writer, a stripe per `per_stripe`
    /// rows.
    fn write(columns: Vec<(&str, ArrayRef)>, per_stripe: usize) -> tempfile::NamedTempFile {
        let batch = RecordBatch::try_from_iter(columns).unwrap();
        let file = tempfile::NamedTempFile::new().unwrap();
        let mut writer = ArrowWriterBuilder::new(file.reopen().unwrap(), batch.schema())
            .try_build()
            .unwrap();
        let mut at = 0;
        while at < batch.num_rows() {
            let n = per_stripe.min(batch.num_rows() - at);
            writer.write(&batch.slice(at, n)).unwrap();
            writer.flush_stripe().unwrap();
            at += n;
        }
        writer.close().unwrap();
        file
    }

    fn strings(values: impl IntoIterator<Item = Option<String>>) -> ArrayRef {
        Arc::new(values.into_iter().collect::<StringArray>())
    }

    /// `n` rows of bucket b: keys k0.., every 3rd a noncurrent version, every 5th a delete
    /// marker (null status and size), the rest cycling through the statuses (X unknown).
    fn rows(n: usize) -> Vec<(&'static str, ArrayRef)> {
        const STATUSES: [&str; 6] = ["NOT-SSE", "SSE-S3", "SSE-KMS", "DSSE-KMS", "SSE-C", "X"];
        let marker = |i: usize| i % 5 == 4;
        vec![
            ("bucket", strings((0..n).map(|_| Some("b".into())))),
            ("key", strings((0..n).map(|i| Some(format!("k{i} +%2B"))))),
            ("version_id", strings((0..n).map(|i| Some(format!("v{i}"))))),
            (
                "is_latest",
                Arc::new((0..n).map(|i| Some(i % 3 != 2)).collect::<BooleanArray>()),
            ),
            (
                "is_delete_marker",
                Arc::new((0..n).map(|i| Some(marker(i))).collect::<BooleanArray>()),
            ),
            (
                "size",
                Arc::new(
                    (0..n)
                        .map(|i| (!marker(i)).then_some(i as i64))
                        .collect::<Int64Array>(),
                ),
            ),
            ("e_tag", strings((0..n).map(|_| None))),
            (
                "encryption_status",
                strings((0..n).map(|i| (!marker(i)).then(|| STATUSES[(i / 2) % 6].to_string()))),
            ),
        ]
    }

    fn decode_file(path: &Path, schema: &str) -> Result<crate::model::ObjectSummary, String> {
        let m = manifest(schema);
        let mut tally = Tally::new(&m, None);
        decode(path, &m.columns, None, &mut tally)?;
        Ok(tally.finish().0)
    }

    /// Every row of every stripe is counted once, across batch boundaries (BATCH rows)
    /// inside a stripe and stripes of another size; keys are taken as written.
    #[test]
    fn every_row_of_every_stripe_and_batch_is_counted() {
        let n = 2 * BATCH + 1000;
        let file = write(rows(n), BATCH + 7);
        let s = decode_file(file.path(), SCHEMA).unwrap();
        // Expected from the same rules, row by row.
        let (mut current, mut noncurrent, mut bytes) = (0u64, 0u64, 0u64);
        for i in (0..n).filter(|i| i % 5 != 4) {
            if i % 3 != 2 {
                current += 1;
                bytes += i as u64;
            } else {
                noncurrent += 1;
            }
        }
        assert_eq!(s.current.total, current);
        assert_eq!(s.noncurrent.as_ref().unwrap().total, noncurrent);
        assert_eq!(s.current_bytes.as_ref().unwrap().total, bytes);
        let noncurrent_unknown = s.noncurrent.as_ref().unwrap().unknown;
        assert_eq!(
            s.current.unknown + noncurrent_unknown,
            s.unknown_values["X"]
        );
        let c = &s.current;
        assert!(
            c.none > 0 && c.sse_c > 0 && c.dsse_kms > 0 && c.unknown > 0,
            "{c:?}"
        );
        // Keys are not URL-decoded: "+" and "%2B" stay as they are.
        let sample = &s.samples[&crate::model::SseMode::None];
        assert_eq!(sample[0], "k0 +%2B", "{sample:?}");
    }

    #[test]
    fn a_column_of_another_type_is_named() {
        let mut columns = rows(3);
        columns[5].1 = strings((0..3).map(|i| Some(i.to_string())));
        let file = write(columns, 10);
        assert_eq!(
            decode_file(file.path(), SCHEMA).unwrap_err(),
            "column size is string, expected bigint"
        );
        let mut columns = rows(3);
        columns[3].1 = Arc::new(Int64Array::from(vec![1, 0, 1]));
        let file = write(columns, 10);
        assert_eq!(
            decode_file(file.path(), SCHEMA).unwrap_err(),
            "column is_latest is bigint, expected boolean"
        );
        let mut columns = rows(3);
        columns[7].1 = Arc::new(BooleanArray::from(vec![true, false, true]));
        let file = write(columns, 10);
        assert_eq!(
            decode_file(file.path(), SCHEMA).unwrap_err(),
            "column encryption_status is boolean, expected string"
        );
    }

    #[test]
    fn a_column_the_manifest_names_must_be_in_the_file() {
        let mut columns = rows(3);
        columns.remove(7);
        let file = write(columns, 10);
        assert_eq!(
            decode_file(file.path(), SCHEMA).unwrap_err(),
            "no column encryption_status, which the manifest's fileSchema names"
        );
        // A column the manifest does not name is not read, whatever its type.
        let mut columns = rows(3);
        columns[5].1 = strings((0..3).map(|_| None));
        let file = write(columns, 10);
        let s = decode_file(
            file.path(),
            "struct<bucket:string,key:string,encryption_status:string>",
        )
        .unwrap();
        // Without is_delete_marker every row is an object, without is_latest a current one.
        assert_eq!(s.current.total, 3);
    }

    /// Cut or damaged files are an error, never a panic nor fewer rows.
    #[test]
    fn truncated_or_damaged_files_are_errors() {
        let file = write(rows(200), 80);
        let bytes = std::fs::read(file.path()).unwrap();
        let cut = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(cut.path(), &bytes[..bytes.len() - 10]).unwrap();
        let e = decode_file(cut.path(), SCHEMA).unwrap_err();
        assert!(e.starts_with("not a readable ORC file"), "{e}");
        std::fs::write(cut.path(), b"").unwrap();
        assert!(decode_file(cut.path(), SCHEMA).is_err());
        // Bytes all over the file (stripes, footer, postscript) damaged in turn. ORC has no
        // checksums: a damaged value may decode as another value (the manifest's MD5 is
        // what catches that); what must not happen is a panic.
        let mut gave_up = 0;
        for at in (0..bytes.len()).step_by(11) {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x5a;
            std::fs::write(cut.path(), &damaged).unwrap();
            if let Err(e) = decode_file(cut.path(), SCHEMA) {
                gave_up += usize::from(e.contains("the ORC reader gave up"));
            }
        }
        // orc-rust panics on some of these (its footer asserts): each one is an error.
        assert!(gave_up > 0, "no damage reached a panic of the reader");
    }
}
