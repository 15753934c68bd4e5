//! The Parquet data files of a live inventory table, through the parquet crate's column
//! readers ([`super::columns`]): only the eight columns the counts use are decoded, a batch
//! of rows at a time per row group. Columns are found by
//! their Iceberg field id (Iceberg writers store it in the Parquet schema, and it survives a
//! rename), else by name.

use std::path::Path;

use parquet::basic::Type as PhysicalType;
use parquet::data_type::{BoolType, ByteArrayType, DataType, Int64Type};
use parquet::file::reader::{FileReader, RowGroupReader};
use parquet::file::serialized_reader::SerializedFileReader;

use super::columns::{BATCH, Column as Reader, text_at};
use super::latest::{Latest, Row};
use super::table::Column;

/// Reads one data file into `latest`. Every column must be in the file: a file without
/// one (Iceberg would read it as nulls) cannot say whether its objects are encrypted.
pub fn decode(
    path: &Path,
    field_ids: &[i32; 8],
    prefix: Option<&str>,
    latest: &mut Latest,
) -> Result<(), String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let reader = SerializedFileReader::new(file)
        .map_err(|e| format!("not a readable Parquet file (truncated footer?): {e}"))?;
    let schema = reader.metadata().file_metadata().schema_descr();
    let mut at = [0usize; 8];
    for (slot, (column, id)) in at.iter_mut().zip(Column::ALL.iter().zip(field_ids)) {
        let name = column.name();
        let by_id = schema.columns().iter().position(|c| {
            let info = c.self_type().get_basic_info();
            info.has_id() && info.id() == *id && c.path().parts().len() == 1
        });
        let index = by_id
            .or_else(|| {
                schema
                    .columns()
                    .iter()
                    .position(|c| c.path().parts() == [name.to_string()])
            })
            .ok_or_else(|| format!("no column {name} (field id {id})"))?;
        let c = schema.column(index);
        let expected = match column {
            Column::IsDeleteMarker => PhysicalType::BOOLEAN,
            Column::Size => PhysicalType::INT64,
            _ => PhysicalType::BYTE_ARRAY,
        };
        if c.physical_type() != expected || c.max_rep_level() != 0 {
            return Err(format!(
                "column {name} is {}, expected {expected}",
                c.physical_type()
            ));
        }
        *slot = index;
    }
    for g in 0..reader.num_row_groups() {
        let group = reader
            .get_row_group(g)
            .map_err(|e| format!("row group {g}: {e}"))?;
        read_group(&*group, g, &at, prefix, latest)?;
    }
    Ok(())
}

fn read_group(
    group: &dyn RowGroupReader,
    g: usize,
    at: &[usize; 8],
    prefix: Option<&str>,
    latest: &mut Latest,
) -> Result<(), String> {
    let total = usize::try_from(group.metadata().num_rows())
        .map_err(|_| format!("row group {g}: a negative row count"))?;
    let text = |c: Column| {
        Reader::open(
            group,
            at[c as usize],
            c.name(),
            ByteArrayType::get_column_reader,
        )
    };
    let mut bucket = text(Column::Bucket)?;
    let mut key = text(Column::Key)?;
    let mut sequence = text(Column::SequenceNumber)?;
    let mut version = text(Column::VersionId)?;
    let mut status = text(Column::EncryptionStatus)?;
    let mut arn = text(Column::KmsKeyArn)?;
    let mut marker = Reader::open(
        group,
        at[Column::IsDeleteMarker as usize],
        "is_delete_marker",
        BoolType::get_column_reader,
    )?;
    let mut size = Reader::open(
        group,
        at[Column::Size as usize],
        "size",
        Int64Type::get_column_reader,
    )?;
    let mut done = 0;
    while done < total {
        let n = BATCH.min(total - done);
        for c in [
            &mut bucket,
            &mut key,
            &mut sequence,
            &mut version,
            &mut status,
            &mut arn,
        ] {
            c.fill(n)?;
        }
        marker.fill(n)?;
        size.fill(n)?;
        for r in 0..n {
            let row_no = done + r + 1;
            let size = match size.get(r) {
                None => None,
                Some(&s) => Some(
                    u64::try_from(s)
                        .map_err(|_| format!("row group {g}, row {row_no}: a negative size {s}"))?,
                ),
            };
            let row = Row {
                bucket: required(&bucket, r, g, row_no)?,
                key: required(&key, r, g, row_no)?,
                sequence_number: required(&sequence, r, g, row_no)?,
                version_id: text_at(Some(&version), r, g, row_no)?,
                is_delete_marker: marker.get(r).copied(),
                size,
                encryption_status: text_at(Some(&status), r, g, row_no)?,
                kms_key_arn: text_at(Some(&arn), r, g, row_no)?,
            };
            latest
                .add(&row, prefix)
                .map_err(|e| format!("row group {g}, row {row_no}: {e}"))?;
        }
        done += n;
    }
    Ok(())
}

/// Row `r` of a column the schema requires: a null is bad input.
fn required(c: &Reader<ByteArrayType>, r: usize, g: usize, row_no: usize) -> Result<&str, String> {
    text_at(Some(c), r, g, row_no)?
        .ok_or_else(|| format!("row group {g}, row {row_no}: {} is null", c.name))
}
