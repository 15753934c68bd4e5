//! Iceberg manifest lists and manifests (Avro object container files, Iceberg table spec
//! "Manifests" and "Manifest Lists"), read with apache-avro's generic `Value`s: only the
//! fields named here are looked at, whatever else (partition tuples, column statistics) the
//! writer put in.

use std::io::Read;

use apache_avro::types::Value;

/// A data file the current snapshot holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFile {
    /// As the manifest writes it: an absolute URI (`s3://…`, `file://…`) or path.
    pub path: String,
    pub records: u64,
    pub size: u64,
}

/// The manifests of a manifest list. A delete manifest (`content` 1: position or equality
/// deletes, or deletion vectors) is refused: its rows would have to be subtracted
/// (merge-on-read), and counting the data files alone would count deleted objects.
pub fn manifest_list(reader: impl Read) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for (i, entry) in records(reader)?.enumerate() {
        let entry = entry?;
        let n = i + 1;
        if int(&entry, "content").unwrap_or(0) != 0 {
            return Err(format!(
                "entry {n} is a delete manifest: the table has merge-on-read deletes, which s3audit does not apply (it would miscount); compact the table (rewrite_data_files) and give the new metadata file"
            ));
        }
        out.push(
            string(&entry, "manifest_path")
                .ok_or_else(|| format!("entry {n} has no manifest_path"))?
                .to_string(),
        );
    }
    Ok(out)
}

/// The live data files of a manifest: entries with status DELETED (2) are files a later
/// snapshot removed and are skipped; delete files and non-Parquet files are refused.
pub fn manifest(reader: impl Read) -> Result<Vec<DataFile>, String> {
    let mut out = Vec::new();
    for (i, entry) in records(reader)?.enumerate() {
        let entry = entry?;
        let n = i + 1;
        let status = int(&entry, "status").ok_or_else(|| format!("entry {n} has no status"))?;
        if status == 2 {
            continue;
        }
        let file =
            field(&entry, "data_file").ok_or_else(|| format!("entry {n} has no data_file"))?;
        if int(file, "content").unwrap_or(0) != 0 {
            return Err(format!(
                "entry {n} is a delete file: the table has merge-on-read deletes, which s3audit does not apply (it would miscount); compact the table and give the new metadata file"
            ));
        }
        let path = string(file, "file_path")
            .ok_or_else(|| format!("entry {n} has no file_path"))?
            .to_string();
        match string(file, "file_format") {
            Some(f) if f.eq_ignore_ascii_case("parquet") => {}
            other => {
                return Err(format!(
                    "data file {path} is {}: only Parquet data files are read",
                    other.unwrap_or("of no format")
                ));
            }
        }
        let count = |name: &str| {
            int(file, name)
                .and_then(|v| u64::try_from(v).ok())
                .ok_or_else(|| format!("entry {n} ({path}) has no valid {name}"))
        };
        out.push(DataFile {
            records: count("record_count")?,
            size: count("file_size_in_bytes")?,
            path,
        });
    }
    Ok(out)
}

/// The records of an Avro container, each checked to be a record.
fn records(
    reader: impl Read,
) -> Result<impl Iterator<Item = Result<Vec<(String, Value)>, String>>, String> {
    let reader = apache_avro::Reader::new(reader)
        .map_err(|e| format!("not a readable Avro file (truncated?): {e}"))?;
    Ok(reader.map(|value| match value {
        Ok(Value::Record(fields)) => Ok(fields),
        Ok(other) => Err(format!("an entry that is not a record: {other:?}")),
        Err(e) => Err(format!("truncated or corrupt Avro: {e}")),
    }))
}

/// A record's field, through a `["null", T]` union.
fn field<'a>(record: &'a [(String, Value)], name: &str) -> Option<&'a [(String, Value)]> {
    match lookup(record, name)? {
        Value::Record(fields) => Some(fields),
        _ => None,
    }
}

fn lookup<'a>(record: &'a [(String, Value)], name: &str) -> Option<&'a Value> {
    let mut value = &record.iter().find(|(n, _)| n == name)?.1;
    while let Value::Union(_, inner) = value {
        value = inner;
    }
    Some(value)
}

fn string<'a>(record: &'a [(String, Value)], name: &str) -> Option<&'a str> {
    match lookup(record, name)? {
        Value::String(s) => Some(s),
        _ => None,
    }
}

fn int(record: &[(String, Value)], name: &str) -> Option<i64> {
    match lookup(record, name)? {
        Value::Int(v) => Some(i64::from(*v)),
        Value::Long(v) => Some(*v),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use apache_avro::{Codec, DeflateSettings, Schema, Writer};

    const LIST: &str = r#"{"type": "record", "name": "manifest_file", "fields": [
        {"name": "manifest_path", "type": "string"},
        {"name": "manifest_length", "type": "long"},
        {"name": "content", "type": "int"}]}"#;

    const MANIFEST: &str = r#"{"type": "record", "name": "manifest_entry", "fields": [
        {"name": "status", "type": "int"},
        {"name": "snapshot_id", "type": ["null", "long"]},
        {"name": "data_file", "type": {"type": "record", "name": "r2", "fields": [
            {"name": "content", "type": "int"},
            {"name": "file_path", "type": "string"},
            {"name": "file_format", "type": "string"},
            {"name": "record_count", "type": "long"},
            {"name": "file_size_in_bytes", "type": "long"}]}}]}"#;

    fn avro(schema: &str, rows: Vec<Value>) -> Vec<u8> {
        let schema = Schema::parse_str(schema).unwrap();
        let mut w = Writer::with_codec(
            &schema,
            Vec::new(),
            Codec::Deflate(DeflateSettings::default()),
        )
        .unwrap();
        for row in rows {
            w.append_value(row).unwrap();
        }
        w.into_inner().unwrap()
    }

    fn list_entry(path: &str, content: i32) -> Value {
        Value::Record(vec![
            ("manifest_path".into(), Value::String(path.into())),
            ("manifest_length".into(), Value::Long(1)),
            ("content".into(), Value::Int(content)),
        ])
    }

    fn manifest_entry(status: i32, content: i32, path: &str, format: &str) -> Value {
        Value::Record(vec![
            ("status".into(), Value::Int(status)),
            (
                "snapshot_id".into(),
                Value::Union(1, Box::new(Value::Long(3))),
            ),
            (
                "data_file".into(),
                Value::Record(vec![
                    ("content".into(), Value::Int(content)),
                    ("file_path".into(), Value::String(path.into())),
                    ("file_format".into(), Value::String(format.into())),
                    ("record_count".into(), Value::Long(5)),
                    ("file_size_in_bytes".into(), Value::Long(900)),
                ]),
            ),
        ])
    }

    #[test]
    fn data_manifests_are_listed_and_delete_manifests_refused() {
        let bytes = avro(
            LIST,
            vec![list_entry("m0.avro", 0), list_entry("m1.avro", 0)],
        );
        assert_eq!(manifest_list(&bytes[..]).unwrap(), ["m0.avro", "m1.avro"]);
        let bytes = avro(
            LIST,
            vec![list_entry("m0.avro", 0), list_entry("d.avro", 1)],
        );
        let e = manifest_list(&bytes[..]).unwrap_err();
        assert!(e.contains("entry 2 is a delete manifest"), "{e}");
    }

    #[test]
    fn deleted_entries_are_skipped_and_delete_files_refused() {
        let bytes = avro(
            MANIFEST,
            vec![
                manifest_entry(1, 0, "s3://b/t/data/a.parquet", "PARQUET"),
                manifest_entry(2, 0, "s3://b/t/data/gone.parquet", "PARQUET"),
                manifest_entry(0, 0, "s3://b/t/data/c.parquet", "PARQUET"),
            ],
        );
        let files = manifest(&bytes[..]).unwrap();
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            ["s3://b/t/data/a.parquet", "s3://b/t/data/c.parquet"]
        );
        assert_eq!((files[0].records, files[0].size), (5, 900));

        let bytes = avro(MANIFEST, vec![manifest_entry(1, 1, "d.parquet", "PARQUET")]);
        let e = manifest(&bytes[..]).unwrap_err();
        assert!(e.contains("entry 1 is a delete file"), "{e}");
        let bytes = avro(MANIFEST, vec![manifest_entry(1, 0, "x.orc", "ORC")]);
        let e = manifest(&bytes[..]).unwrap_err();
        assert!(e.contains("is ORC: only Parquet"), "{e}");
    }

    #[test]
    fn a_truncated_avro_file_is_an_error() {
        let bytes = avro(
            MANIFEST,
            (0..50)
                .map(|i| manifest_entry(1, 0, &format!("f{i}.parquet"), "PARQUET"))
                .collect(),
        );
        let cut = &bytes[..bytes.len() - 30];
        assert!(manifest(cut).is_err());
        assert!(manifest(&bytes[..10]).is_err());
    }
}
