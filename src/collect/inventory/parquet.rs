//! Parquet inventory files, through the parquet crate's Arrow reader: only the columns the
//! counts use are decoded (a projection), a batch of rows at a time per row group, so memory
//! holds a row group's projected pages and one batch, not the file. The low-cardinality text
//! columns (bucket, encryption status) are read as dictionaries, as the writer stored them,
//! so a row costs an index, not a string; a column the writer did not dictionary-encode is
//! read all the same.
//!
//! The Arrow reader took 10 million rows in a third of the CPU of the column readers
//! (which built a reference-counted buffer per value and checked UTF-8 value by value), and
//! shares its row loop ([`super::batch`]) with ORC, whose reader yields Arrow too.

use std::path::Path;
use std::sync::Arc;

use arrow_schema::{DataType, Field as ArrowField, Schema};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::basic::Type as PhysicalType;

use super::batch::{BATCH, add_batches};
use super::manifest::{Columns, Field};
use super::tally::Tally;

/// The text columns read as dictionaries: one value, or a handful, per inventory.
const DICTIONARY: [Field; 2] = [Field::Bucket, Field::EncryptionStatus];

pub fn decode(
    path: &Path,
    columns: &Columns,
    prefix: Option<&str>,
    tally: &mut Tally,
) -> Result<(), String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let unreadable = |e: parquet::errors::ParquetError| {
        format!("not a readable Parquet file (truncated footer?): {e}")
    };
    let footer = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).map_err(unreadable)?;
    let schema = footer.parquet_schema();
    // Where each used field is in the file, checked against the manifest and its type.
    let mut leaves = Vec::new();
    for field in Field::ALL {
        if columns.position(field).is_none() {
            continue;
        }
        let name = field.column_name();
        let index = schema
            .columns()
            .iter()
            .position(|c| c.path().parts() == [name.to_string()])
            .ok_or_else(|| format!("no column {name}, which the manifest's fileSchema names"))?;
        let column = schema.column(index);
        let expected = match field {
            Field::IsLatest | Field::IsDeleteMarker => PhysicalType::BOOLEAN,
            Field::Size => PhysicalType::INT64,
            _ => PhysicalType::BYTE_ARRAY,
        };
        if column.physical_type() != expected || column.max_rep_level() != 0 {
            return Err(format!(
                "column {name} is {}{}, expected {expected}",
                column.physical_type(),
                if column.max_rep_level() != 0 {
                    " (repeated)"
                } else {
                    ""
                }
            ));
        }
        leaves.push(index);
    }
    let projection = ProjectionMask::leaves(schema, leaves);
    // The file's Arrow schema with the dictionary columns retyped: the reader then keeps
    // the writer's dictionary pages instead of expanding them.
    let hinted: Vec<ArrowField> = footer
        .schema()
        .fields()
        .iter()
        .map(|f| {
            let text = matches!(f.data_type(), DataType::Utf8 | DataType::Binary);
            if text && DICTIONARY.iter().any(|d| d.column_name() == f.name()) {
                ArrowField::new(
                    f.name(),
                    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
                    f.is_nullable(),
                )
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    let options = ArrowReaderOptions::new().with_schema(Arc::new(Schema::new(hinted)));
    let footer =
        ArrowReaderMetadata::try_new(footer.metadata().clone(), options).map_err(unreadable)?;
    let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, footer)
        .with_projection(projection)
        .with_batch_size(BATCH)
        .build()
        .map_err(unreadable)?;
    add_batches(reader, prefix, tally)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray};
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;

    use super::super::manifest::Manifest;
    use super::*;
    use crate::model::{ObjectSummary, SseMode};

    const SCHEMA: &str = "message s3.inventory { required binary bucket (UTF8); required binary key (UTF8); optional binary version_id (UTF8); optional boolean is_latest; optional boolean is_delete_marker; optional int64 size; optional binary encryption_status (UTF8); }";

    fn manifest() -> Manifest {
        let json = serde_json::json!({
            "sourceBucket": "b",
            "destinationBucket": "arn:aws:s3:::dest",
            "creationTimestamp": "1514944800000",
            "fileFormat": "Parquet",
            "fileSchema": SCHEMA,
            "files": [],
        });
        Manifest::parse(json.to_string().as_bytes()).unwrap()
    }

    /// `n` rows: every 7th a delete marker (null status and size), every 3rd noncurrent,
    /// statuses cycling through every documented one, an unknown one and a null.
    fn batch(n: usize, bucket: impl Fn(usize) -> &'static str) -> RecordBatch {
        const STATUSES: [Option<&str>; 7] = [
            Some("NOT-SSE"),
            Some("SSE-S3"),
            Some("SSE-KMS"),
            Some("DSSE-KMS"),
            Some("SSE-C"),
            Some("SSE-FSX"),
            None,
        ];
        let marker = |i: usize| i % 7 == 6;
        let strings = |f: &dyn Fn(usize) -> Option<String>| -> ArrayRef {
            Arc::new((0..n).map(f).collect::<StringArray>())
        };
        RecordBatch::try_from_iter([
            ("bucket", strings(&|i| Some(bucket(i).to_string()))),
            ("key", strings(&|i| Some(format!("k/{i:06}")))),
            ("version_id", strings(&|i| Some(format!("v{i}")))),
            (
                "is_latest",
                Arc::new((0..n).map(|i| Some(i % 3 != 2)).collect::<BooleanArray>()) as ArrayRef,
            ),
            (
                "is_delete_marker",
                Arc::new((0..n).map(|i| Some(marker(i))).collect::<BooleanArray>()),
            ),
            (
                "size",
                Arc::new(
                    (0..n)
                        .map(|i| (!marker(i)).then_some(i as i64 * 10))
                        .collect::<Int64Array>(),
                ),
            ),
            (
                "encryption_status",
                strings(&|i| {
                    STATUSES[(i / 2) % 7]
                        .filter(|_| !marker(i))
                        .map(String::from)
                }),
            ),
        ])
        .unwrap()
    }

    /// Writes `batch` in row groups of `group` rows, dictionary-encoded or not.
    fn write(batch: &RecordBatch, group: usize, dictionary: bool) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(group))
            .set_dictionary_enabled(dictionary)
            .set_data_page_row_count_limit(1000)
            .set_write_batch_size(500)
            .build();
        let mut w =
            ArrowWriter::try_new(file.reopen().unwrap(), batch.schema(), Some(props)).unwrap();
        w.write(batch).unwrap();
        w.close().unwrap();
        file
    }

    fn decode_file(file: &tempfile::NamedTempFile) -> Result<ObjectSummary, String> {
        let m = manifest();
        let mut tally = Tally::new(&m, None);
        decode(file.path(), &m.columns, None, &mut tally)?;
        Ok(tally.finish().0)
    }

    /// The same rows count the same whether the writer stored the text columns as
    /// dictionaries (read as such) or plain, across row groups, pages and batches.
    #[test]
    fn dictionary_and_plain_files_count_alike_and_exactly() {
        let n = 2 * BATCH + 1234;
        let rows = batch(n, |_| "b");
        let dictionary = decode_file(&write(&rows, 5000, true)).unwrap();
        let plain = decode_file(&write(&rows, 5000, false)).unwrap();
        assert_eq!(
            serde_json::to_value(&dictionary).unwrap(),
            serde_json::to_value(&plain).unwrap()
        );
        let (mut current, mut noncurrent, mut unknown, mut bytes) = (0, 0, 0, 0);
        for i in (0..n).filter(|i| i % 7 != 6) {
            if i % 3 != 2 {
                current += 1;
                bytes += i as u64 * 10;
                // SSE-FSX and a null status are both unknown.
                unknown += u64::from((i / 2) % 7 >= 5);
            } else {
                noncurrent += 1;
            }
        }
        assert_eq!(plain.current.total, current);
        assert_eq!(plain.current.unknown, unknown);
        assert_eq!(plain.noncurrent.as_ref().unwrap().total, noncurrent);
        assert_eq!(plain.current_bytes.as_ref().unwrap().total, bytes);
        assert!(plain.unknown_values.contains_key("SSE-FSX"));
        assert_eq!(plain.samples[&SseMode::None][0], "k/000000");
    }

    /// A row of another bucket is bad input, wherever it is in a dictionary column.
    #[test]
    fn a_row_of_another_bucket_is_an_error_in_either_encoding() {
        let rows = batch(3 * BATCH, |i| if i == BATCH + 5 { "other" } else { "b" });
        for dictionary in [true, false] {
            let e = decode_file(&write(&rows, 5000, dictionary)).unwrap_err();
            assert!(
                e.starts_with(&format!("row {}: a row of bucket \"other\"", BATCH + 6)),
                "{e}"
            );
        }
    }
}
