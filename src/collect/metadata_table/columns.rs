//! The parquet crate's column readers (no Arrow), one column of one row group a batch at a
//! time with its nulls resolved: how a live inventory table's data files are read, by
//! Iceberg field id (see [`super::rows`]).

use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use parquet::data_type::{ByteArrayType, DataType};
use parquet::file::reader::RowGroupReader;

/// Rows decoded at once per column.
pub(crate) const BATCH: usize = 4096;

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
