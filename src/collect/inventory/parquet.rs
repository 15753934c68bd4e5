//! Parquet inventory files, through the parquet crate's column readers (no Arrow): only
//! the columns the counts use are decoded, one batch of rows at a time per row group, so
//! memory holds a batch, not the file.

use std::path::Path;

use parquet::basic::Type as PhysicalType;
use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use parquet::data_type::{BoolType, ByteArrayType, DataType, Int64Type};
use parquet::file::reader::{FileReader, RowGroupReader};
use parquet::file::serialized_reader::SerializedFileReader;

use super::manifest::{Columns, Field};
use super::tally::{Row, Tally};

/// Rows decoded at once per column.
pub(crate) const BATCH: usize = 4096;

pub fn decode(
    path: &Path,
    columns: &Columns,
    prefix: Option<&str>,
    tally: &mut Tally,
) -> Result<(), String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let reader = SerializedFileReader::new(file)
        .map_err(|e| format!("not a readable Parquet file (truncated footer?): {e}"))?;
    let schema = reader.metadata().file_metadata().schema_descr();
    // Where each used field is in the file, checked against the manifest and its type.
    let mut at: [Option<usize>; 7] = [None; 7];
    for field in Field::ALL {
        let Some(_) = columns.position(field) else {
            continue;
        };
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
        at[field as usize] = Some(index);
    }
    for g in 0..reader.num_row_groups() {
        let group = reader
            .get_row_group(g)
            .map_err(|e| format!("row group {g}: {e}"))?;
        read_group(&*group, g, &at, prefix, tally)?;
    }
    Ok(())
}

/// One column of one row group: its reader and the current batch, nulls resolved.
pub(crate) struct Column<T: DataType> {
    pub(crate) name: &'static str,
    reader: ColumnReaderImpl<T>,
    max_def: i16,
    defs: Vec<i16>,
    values: Vec<T::T>,
    /// Per row of the batch: the index of its value, or `None` for null.
    slots: Vec<Option<usize>>,
}

impl<T: DataType> Column<T> {
    pub(crate) fn open(
        group: &dyn RowGroupReader,
        index: usize,
        name: &'static str,
        cast: fn(ColumnReader) -> Option<ColumnReaderImpl<T>>,
    ) -> Result<Self, String> {
        let max_def = group
            .metadata()
            .column(index)
            .column_descr()
            .max_def_level();
        let reader = group
            .get_column_reader(index)
            .map_err(|e| format!("column {name}: {e}"))?;
        Ok(Column {
            name,
            reader: cast(reader).ok_or_else(|| format!("column {name}: unexpected type"))?,
            max_def,
            defs: Vec::with_capacity(BATCH),
            values: Vec::with_capacity(BATCH),
            slots: Vec::with_capacity(BATCH),
        })
    }

    /// Reads the next `n` rows, which the row group's metadata says are there.
    pub(crate) fn fill(&mut self, n: usize) -> Result<(), String> {
        self.defs.clear();
        self.values.clear();
        self.slots.clear();
        let mut rows = 0;
        while rows < n {
            let (records, _, _) = self
                .reader
                .read_records(n - rows, Some(&mut self.defs), None, &mut self.values)
                .map_err(|e| format!("column {}: {e}", self.name))?;
            if records == 0 {
                return Err(format!(
                    "column {} ends before the row group's {n} rows: the file is truncated or corrupt",
                    self.name
                ));
            }
            rows += records;
        }
        let mut next = 0;
        if self.max_def == 0 {
            self.slots.extend((0..n).map(Some));
            next = n;
        } else {
            for &d in &self.defs {
                if d == self.max_def {
                    self.slots.push(Some(next));
                    next += 1;
                } else {
                    self.slots.push(None);
                }
            }
        }
        if self.slots.len() != n || next != self.values.len() {
            return Err(format!(
                "column {}: levels and values disagree: the file is corrupt",
                self.name
            ));
        }
        Ok(())
    }

    pub(crate) fn get(&self, row: usize) -> Option<&T::T> {
        self.slots[row].map(|i| &self.values[i])
    }
}

fn bytes_column(
    group: &dyn RowGroupReader,
    at: &[Option<usize>; 7],
    field: Field,
) -> Result<Option<Column<ByteArrayType>>, String> {
    at[field as usize]
        .map(|i| {
            Column::open(
                group,
                i,
                field.column_name(),
                ByteArrayType::get_column_reader,
            )
        })
        .transpose()
}

fn bool_column(
    group: &dyn RowGroupReader,
    at: &[Option<usize>; 7],
    field: Field,
) -> Result<Option<Column<BoolType>>, String> {
    at[field as usize]
        .map(|i| Column::open(group, i, field.column_name(), BoolType::get_column_reader))
        .transpose()
}

fn read_group(
    group: &dyn RowGroupReader,
    g: usize,
    at: &[Option<usize>; 7],
    prefix: Option<&str>,
    tally: &mut Tally,
) -> Result<(), String> {
    let total = usize::try_from(group.metadata().num_rows())
        .map_err(|_| format!("row group {g}: a negative row count"))?;
    let mut bucket = bytes_column(group, at, Field::Bucket)?;
    let mut key = bytes_column(group, at, Field::Key)?;
    let mut version = bytes_column(group, at, Field::VersionId)?;
    let mut status = bytes_column(group, at, Field::EncryptionStatus)?;
    let mut latest = bool_column(group, at, Field::IsLatest)?;
    let mut marker = bool_column(group, at, Field::IsDeleteMarker)?;
    let mut size = at[Field::Size as usize]
        .map(|i| Column::open(group, i, "size", Int64Type::get_column_reader))
        .transpose()?;
    let mut done = 0;
    while done < total {
        let n = BATCH.min(total - done);
        for c in [&mut bucket, &mut key, &mut version, &mut status]
            .into_iter()
            .flatten()
        {
            c.fill(n)?;
        }
        for c in [&mut latest, &mut marker].into_iter().flatten() {
            c.fill(n)?;
        }
        if let Some(c) = &mut size {
            c.fill(n)?;
        }
        for r in 0..n {
            let row_no = done + r + 1;
            let flag = |c: &Option<Column<BoolType>>| c.as_ref().and_then(|c| c.get(r).copied());
            let size = match size.as_ref().and_then(|c| c.get(r)) {
                None => None,
                Some(&s) => Some(
                    u64::try_from(s)
                        .map_err(|_| format!("row group {g}, row {row_no}: a negative size {s}"))?,
                ),
            };
            let row = Row {
                bucket: text_at(bucket.as_ref(), r, g, row_no)?.unwrap_or_default(),
                key: text_at(key.as_ref(), r, g, row_no)?.unwrap_or_default(),
                version_id: text_at(version.as_ref(), r, g, row_no)?.filter(|v| !v.is_empty()),
                is_latest: flag(&latest),
                is_delete_marker: flag(&marker),
                size,
                encryption_status: text_at(status.as_ref(), r, g, row_no)?,
            };
            tally
                .add(&row, prefix)
                .map_err(|e| format!("row group {g}, row {row_no}: {e}"))?;
        }
        done += n;
    }
    Ok(())
}

/// Row `r` of a text column as UTF-8; `None` for a null or an absent column.
pub(crate) fn text_at(
    c: Option<&Column<ByteArrayType>>,
    r: usize,
    g: usize,
    row_no: usize,
) -> Result<Option<&str>, String> {
    match c.and_then(|c| c.get(r).map(|v| (c.name, v))) {
        None => Ok(None),
        Some((name, v)) => std::str::from_utf8(v.data())
            .map(Some)
            .map_err(|_| format!("row group {g}, row {row_no}: {name} is not UTF-8")),
    }
}
