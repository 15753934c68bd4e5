//! AWS partitions, known in this one place: which partition a region belongs to, and what
//! the engine needs to write a principal, key or endpoint that exists in a partition. The
//! probe principals and values of counterexamples are built in the partition of the
//! resource they are about (`Target::partition`, or a key ARN's), since a request never
//! crosses partitions: an `arn:aws:` principal in a China policy is no one.

/// One partition: its name, the region prefix that selects it, a region in it (for probe
/// ARNs that need one) and its DNS suffix (service endpoints, `kms:ViaService`).
struct Partition {
    name: &'static str,
    region_prefix: &'static str,
    home_region: &'static str,
    dns_suffix: &'static str,
}

/// Longest prefixes first: "us-isob-" also starts with "us-iso". The commercial partition
/// is last and matches every region (a region never seen is assumed commercial).
const PARTITIONS: [Partition; 7] = [
    Partition {
        name: "aws-iso-b",
        region_prefix: "us-isob-",
        home_region: "us-isob-east-1",
        dns_suffix: "sc2s.sgov.gov",
    },
    Partition {
        name: "aws-iso-f",
        region_prefix: "us-isof-",
        home_region: "us-isof-south-1",
        dns_suffix: "csp.hci.ic.gov",
    },
    Partition {
        name: "aws-iso-e",
        region_prefix: "eu-isoe-",
        home_region: "eu-isoe-west-1",
        dns_suffix: "cloud.adc-e.uk",
    },
    Partition {
        name: "aws-iso",
        region_prefix: "us-iso-",
        home_region: "us-iso-east-1",
        dns_suffix: "c2s.ic.gov",
    },
    Partition {
        name: "aws-us-gov",
        region_prefix: "us-gov-",
        home_region: "us-gov-west-1",
        dns_suffix: "amazonaws.com",
    },
    Partition {
        name: "aws-cn",
        region_prefix: "cn-",
        home_region: "cn-north-1",
        dns_suffix: "amazonaws.com.cn",
    },
    Partition {
        name: "aws",
        region_prefix: "",
        home_region: "us-east-1",
        dns_suffix: "amazonaws.com",
    },
];

fn by_name(partition: &str) -> &'static Partition {
    PARTITIONS
        .iter()
        .find(|p| p.name == partition)
        .unwrap_or(&PARTITIONS[PARTITIONS.len() - 1])
}

/// The partition a region belongs to, by its documented prefix: `aws-cn` (cn-north-1),
/// `aws-us-gov` (us-gov-west-1), the isolated partitions (us-iso-east-1 is `aws-iso`,
/// us-isob-east-1 `aws-iso-b`, eu-isoe-west-1 `aws-iso-e`, us-isof-south-1 `aws-iso-f`), and
/// `aws` for every other region.
pub fn partition_of(region: &str) -> &'static str {
    PARTITIONS
        .iter()
        .find(|p| region.starts_with(p.region_prefix))
        .map_or("aws", |p| p.name)
}

/// A region of the partition, for probe ARNs that must name one (an unknown partition is
/// taken as the commercial one).
pub fn home_region(partition: &str) -> &'static str {
    by_name(partition).home_region
}

/// The partition's DNS suffix (`amazonaws.com.cn` in China).
pub fn dns_suffix(partition: &str) -> &'static str {
    by_name(partition).dns_suffix
}

/// The partition an ARN names (`arn:PARTITION:...`), `aws` when the text is not an ARN.
pub fn of_arn(arn: &str) -> &str {
    arn.strip_prefix("arn:")
        .and_then(|rest| rest.split(':').next())
        .filter(|p| !p.is_empty())
        .unwrap_or("aws")
}

/// An IAM ARN in the partition: `arn:PARTITION:iam::ACCOUNT:RESOURCE`.
pub fn iam_arn(partition: &str, account: &str, resource: &str) -> String {
    format!("arn:{partition}:iam::{account}:{resource}")
}

#[cfg(test)]
mod tests {
    use super::*;

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
            // Every partition's home region is in it.
            assert_eq!(partition_of(home_region(partition)), partition);
        }
    }

    #[test]
    fn arns_name_their_partition() {
        assert_eq!(of_arn("arn:aws-cn:kms:cn-north-1:1:key/k"), "aws-cn");
        assert_eq!(of_arn("not an arn"), "aws");
        assert_eq!(dns_suffix("aws-cn"), "amazonaws.com.cn");
        assert_eq!(dns_suffix("aws-us-gov"), "amazonaws.com");
    }
}
