//! Folds Arrow record batches of inventory rows into a [`Tally`]: the one row loop that
//! Parquet ([`super::parquet`]) and ORC ([`super::orc`]) inventories share. Columns are
//! found by their S3 name; a text column may come as plain UTF-8 or, where the reader keeps
//! the file's dictionary (Parquet's low-cardinality columns), dictionary-encoded, which
//! saves building a string per row.

use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::{Array, BooleanArray, DictionaryArray, Int64Array, RecordBatch, StringArray};
use arrow_schema::DataType;

use super::manifest::Field;
use super::tally::{Row, Tally, mode_of};

/// Rows decoded at once: large enough that per-batch costs vanish, small enough that a
/// batch's keys stay in cache.
pub(crate) const BATCH: usize = 8192;

/// A text column of one batch.
enum Text<'a> {
    Plain(&'a StringArray),
    Dictionary(&'a DictionaryArray<Int32Type>, &'a StringArray),
}

impl<'a> Text<'a> {
    fn of(batch: &'a RecordBatch, field: Field) -> Result<Option<Self>, String> {
        let name = field.column_name();
        let Some(array) = batch.column_by_name(name) else {
            return Ok(None);
        };
        match array.data_type() {
            DataType::Utf8 => Ok(Some(Text::Plain(array.as_string::<i32>()))),
            DataType::Dictionary(k, v) if **k == DataType::Int32 && **v == DataType::Utf8 => {
                let dictionary = array.as_dictionary::<Int32Type>();
                Ok(Some(Text::Dictionary(
                    dictionary,
                    dictionary.values().as_string::<i32>(),
                )))
            }
            other => Err(format!("column {name} decodes to {other}")),
        }
    }

    /// For a dictionary column, `judge` of each dictionary value (null values: `None`), so
    /// a row costs a lookup; `None` for a plain column.
    fn per_value<T>(&self, judge: impl Fn(&str) -> T) -> Option<Vec<Option<T>>> {
        match self {
            Text::Plain(_) => None,
            Text::Dictionary(_, values) => Some(
                (0..values.len())
                    .map(|i| values.is_valid(i).then(|| judge(values.value(i))))
                    .collect(),
            ),
        }
    }

    /// The precomputed judgement of row `r`'s value, for a dictionary column.
    fn judged<T: Copy>(&self, judged: &Option<Vec<Option<T>>>, r: usize) -> Option<T> {
        match (self, judged) {
            (Text::Dictionary(d, _), Some(values)) if d.is_valid(r) => {
                values[d.keys().value(r) as usize]
            }
            _ => None,
        }
    }

    fn get(&self, r: usize) -> Option<&'a str> {
        match self {
            Text::Plain(c) => c.is_valid(r).then(|| c.value(r)),
            Text::Dictionary(d, values) => d.is_valid(r).then(|| {
                // The reader checked every index against its dictionary.
                values.value(d.keys().value(r) as usize)
            }),
        }
    }
}

fn typed<A: Array + 'static>(batch: &RecordBatch, field: Field) -> Result<Option<&A>, String> {
    let name = field.column_name();
    let Some(array) = batch.column_by_name(name) else {
        return Ok(None);
    };
    array
        .as_any()
        .downcast_ref::<A>()
        .map(Some)
        .ok_or_else(|| format!("column {name} decodes to {}", array.data_type()))
}

fn text<'a>(c: &Option<Text<'a>>, r: usize) -> Option<&'a str> {
    c.as_ref().and_then(|c| c.get(r))
}

fn flag(c: Option<&BooleanArray>, r: usize) -> Option<bool> {
    c.filter(|c| c.is_valid(r)).map(|c| c.value(r))
}

/// Counts every row of a file's batches, as its reader yields them.
pub(crate) fn add_batches<E: std::fmt::Display>(
    batches: impl IntoIterator<Item = Result<RecordBatch, E>>,
    prefix: Option<&str>,
    tally: &mut Tally,
) -> Result<(), String> {
    let mut done: u64 = 0;
    for batch in batches {
        let batch = batch.map_err(|e| {
            format!(
                "cannot decode the rows after row {done} (the file is truncated or corrupt): {e}"
            )
        })?;
        add_batch(&batch, done, prefix, tally)?;
        done += batch.num_rows() as u64;
    }
    Ok(())
}

/// Counts the rows of one batch; `before` rows of the file came before it (for messages).
fn add_batch(
    batch: &RecordBatch,
    before: u64,
    prefix: Option<&str>,
    tally: &mut Tally,
) -> Result<(), String> {
    let bucket = Text::of(batch, Field::Bucket)?;
    let key = Text::of(batch, Field::Key)?;
    let version = Text::of(batch, Field::VersionId)?;
    let status = Text::of(batch, Field::EncryptionStatus)?;
    let latest = typed::<BooleanArray>(batch, Field::IsLatest)?;
    let marker = typed::<BooleanArray>(batch, Field::IsDeleteMarker)?;
    let size = typed::<Int64Array>(batch, Field::Size)?;
    // Bucket and status judged once per dictionary value, when the reader kept dictionaries.
    let bucket_ok = bucket
        .as_ref()
        .and_then(|c| c.per_value(|b| tally.check_bucket(b).is_ok()));
    let modes = status.as_ref().and_then(|c| c.per_value(mode_of));
    for r in 0..batch.num_rows() {
        let row_no = before + r as u64 + 1;
        let size = match size.filter(|c| c.is_valid(r)).map(|c| c.value(r)) {
            None => None,
            Some(s) => {
                Some(u64::try_from(s).map_err(|_| format!("row {row_no}: a negative size {s}"))?)
            }
        };
        let row = Row {
            bucket: text(&bucket, r).unwrap_or_default(),
            key: text(&key, r).unwrap_or_default(),
            version_id: text(&version, r).filter(|v| !v.is_empty()),
            is_latest: flag(latest, r),
            is_delete_marker: flag(marker, r),
            size,
            encryption_status: text(&status, r),
        };
        let at_row = |e: String| format!("row {row_no}: {e}");
        let checked = bucket.as_ref().and_then(|c| c.judged(&bucket_ok, r)) == Some(true);
        if !checked {
            tally.check_bucket(row.bucket).map_err(at_row)?;
        }
        let mode = status
            .as_ref()
            .and_then(|c| c.judged(&modes, r))
            .unwrap_or_else(|| mode_of(row.encryption_status.unwrap_or("")));
        tally.add_checked(&row, mode, prefix).map_err(at_row)?;
    }
    Ok(())
}
