//! The AWS partition of a region, derived in this one place: every ARN s3audit writes (a
//! finding's resource, the resources of remediation statements and counterexamples) names
//! the partition of the bucket it is about, so a GovCloud or China estate's findings point
//! at ARNs that exist there.

/// The partition a region belongs to, by its documented prefix: `aws-cn` (cn-north-1),
/// `aws-us-gov` (us-gov-west-1), the isolated partitions (us-iso-east-1 is `aws-iso`,
/// us-isob-east-1 `aws-iso-b`, eu-isoe-west-1 `aws-iso-e`, us-isof-south-1 `aws-iso-f`), and
/// `aws` for every other region. A region s3audit has never seen is assumed commercial.
pub fn partition_of(region: &str) -> &'static str {
    // Longest prefixes first: "us-isob-" also starts with "us-iso".
    const PREFIXES: [(&str, &str); 6] = [
        ("us-isob-", "aws-iso-b"),
        ("us-isof-", "aws-iso-f"),
        ("eu-isoe-", "aws-iso-e"),
        ("us-iso-", "aws-iso"),
        ("us-gov-", "aws-us-gov"),
        ("cn-", "aws-cn"),
    ];
    PREFIXES
        .iter()
        .find(|(prefix, _)| region.starts_with(prefix))
        .map_or("aws", |(_, partition)| partition)
}

#[cfg(test)]
mod tests {
    use super::partition_of;

    #[test]
    fn regions_map_to_their_partitions() {
        for (region, partition) in [
            ("us-east-1", "aws"),
            ("eu-west-1", "aws"),
            ("ap-southeast-7", "aws"),
            ("cn-north-1", "aws-cn"),
            ("cn-northwest-1", "aws-cn"),
            ("us-gov-west-1", "aws-us-gov"),
            ("us-gov-east-1", "aws-us-gov"),
            ("us-iso-east-1", "aws-iso"),
            ("us-isob-east-1", "aws-iso-b"),
            ("eu-isoe-west-1", "aws-iso-e"),
            ("us-isof-south-1", "aws-iso-f"),
            ("", "aws"),
        ] {
            assert_eq!(partition_of(region), partition, "{region}");
        }
    }
}
