//! `--metadata-table` given an S3 Tables table bucket's ARN
//! (`arn:aws:s3tables:REGION:ACCOUNT:bucket/aws-s3`, the AWS managed bucket S3 Metadata
//! writes to): its live inventory tables are found through the S3 Tables API, every table
//! named `inventory` in any of its namespaces (S3 Metadata puts one per source bucket in a
//! namespace named after the bucket), each read from the metadata location S3 Tables
//! reports. Which bucket a table describes is read from its rows, as for a metadata file
//! given directly, so the namespace's spelling of the bucket name is never guessed.

use super::{TableError, err};
use crate::collect::clients::Clients;
use crate::collect::errors::CallFailure;

/// The table name S3 Metadata gives every live inventory table (the journal tables, another
/// schema, are named `journal`).
const INVENTORY_TABLE: &str = "inventory";

/// A table bucket ARN's region, if `spec` is one (`arn:PARTITION:s3tables:REGION:ACCOUNT:
/// bucket/NAME`, nothing after the name).
pub fn table_bucket_region(spec: &str) -> Option<&str> {
    let mut parts = spec.splitn(6, ':');
    let (arn, _partition, service, region, _account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let name = resource.strip_prefix("bucket/")?;
    (arn == "arn"
        && service == "s3tables"
        && !region.is_empty()
        && !name.is_empty()
        && !name.contains('/'))
    .then_some(region)
}

/// The metadata locations (`s3://…metadata.json`) of the table bucket's live inventory
/// tables, in namespace order. A table without one yet (S3 Metadata still backfilling it)
/// is skipped with a warning: its bucket is then read like any bucket without a table.
pub async fn inventory_tables(clients: &Clients, arn: &str) -> Result<Vec<String>, TableError> {
    let region = table_bucket_region(arn).ok_or_else(|| {
        err(
            format!("--metadata-table {arn}"),
            "not an S3 Tables table bucket ARN",
        )
    })?;
    let what = format!("metadata table bucket {arn}");
    let tables = clients.s3tables(region);
    let fail = |call: &str, f: CallFailure| err(&what, format!("{call}: {f}"));
    let mut namespaces = Vec::new();
    let mut pages = tables
        .list_namespaces()
        .table_bucket_arn(arn)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| fail("ListNamespaces", CallFailure::from_sdk(e)))?;
        namespaces.extend(
            page.namespaces()
                .iter()
                .filter_map(|n| n.namespace().first().cloned()),
        );
    }
    let mut locations = Vec::new();
    for namespace in namespaces {
        let mut found = false;
        let mut pages = tables
            .list_tables()
            .table_bucket_arn(arn)
            .namespace(&namespace)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| fail("ListTables", CallFailure::from_sdk(e)))?;
            found |= page.tables().iter().any(|t| t.name() == INVENTORY_TABLE);
        }
        if !found {
            continue;
        }
        let location = tables
            .get_table_metadata_location()
            .table_bucket_arn(arn)
            .namespace(&namespace)
            .name(INVENTORY_TABLE)
            .send()
            .await
            .map_err(|e| fail("GetTableMetadataLocation", CallFailure::from_sdk(e)))?;
        match location.metadata_location() {
            Some(l) => locations.push(l.to_string()),
            None => tracing::warn!(
                "{what}: table {namespace}.{INVENTORY_TABLE} has no metadata yet (still backfilling?): skipped"
            ),
        }
    }
    Ok(locations)
}

#[cfg(test)]
mod tests {
    use super::table_bucket_region;

    #[test]
    fn only_a_table_bucket_arn_is_one() {
        assert_eq!(
            table_bucket_region("arn:aws:s3tables:us-east-1:111122223333:bucket/aws-s3"),
            Some("us-east-1")
        );
        assert_eq!(
            table_bucket_region("arn:aws-cn:s3tables:cn-north-1:111122223333:bucket/b"),
            Some("cn-north-1")
        );
        for not in [
            "arn:aws:s3tables:us-east-1:111122223333:bucket/aws-s3/table/0123",
            "arn:aws:s3:::bucket/aws-s3",
            "arn:aws:s3tables::111122223333:bucket/aws-s3",
            "arn:aws:s3tables:us-east-1:111122223333:bucket/",
            "s3://bucket/metadata/1.metadata.json",
        ] {
            assert_eq!(table_bucket_region(not), None, "{not}");
        }
    }
}
