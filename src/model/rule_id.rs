//! Rule ids as a closed set. A finding's `rule` is one of these, never free text: a typo
//! in a rule's code is a compile error, the JSON Schema lists every id, and a test checks
//! that each id has exactly one metadata file in `rules/` and each file one id.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Declares the enum, its wire names and `ALL` from one list, so the three cannot drift.
macro_rules! rule_ids {
    ($($variant:ident = $code:literal,)+) => {
        /// A rule of the catalogue (`s3audit rules` lists them; `rules/<ID>.toml` holds each
        /// one's words). Serialised as its code, e.g. `"POL-001"`.
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
            JsonSchema,
        )]
        pub enum RuleId {
            $(#[serde(rename = $code)] $variant,)+
        }

        impl RuleId {
            /// Every rule, in catalogue order.
            pub const ALL: &'static [RuleId] = &[$(RuleId::$variant,)+];

            /// The code, as reports print it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(RuleId::$variant => $code,)+
                }
            }
        }
    };
}

rule_ids! {
    Enc001 = "ENC-001",
    Enc002 = "ENC-002",
    Enc003 = "ENC-003",
    Enc004 = "ENC-004",
    Enc005 = "ENC-005",
    Pol001 = "POL-001",
    Pol002 = "POL-002",
    Pol003 = "POL-003",
    Pol004 = "POL-004",
    Pol005 = "POL-005",
    Kms001 = "KMS-001",
    Kms002 = "KMS-002",
    Kms003 = "KMS-003",
    Kms004 = "KMS-004",
    Kms005 = "KMS-005",
    Obj001 = "OBJ-001",
    Obj002 = "OBJ-002",
    Obj003 = "OBJ-003",
    Obj004 = "OBJ-004",
    Obj005 = "OBJ-005",
    Obj006 = "OBJ-006",
    Obj007 = "OBJ-007",
    Obj008 = "OBJ-008",
    Acc001 = "ACC-001",
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A code that names no rule of this build.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no rule {0:?} (s3audit rules lists them)")]
pub struct UnknownRule(pub String);

impl FromStr for RuleId {
    type Err = UnknownRule;

    /// The code as printed (`POL-001`), in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RuleId::ALL
            .iter()
            .copied()
            .find(|id| id.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownRule(s.to_string()))
    }
}

impl PartialEq<str> for RuleId {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for RuleId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl AsRef<str> for RuleId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_well_formed_and_round_trip() {
        let mut seen = std::collections::BTreeSet::new();
        for id in RuleId::ALL {
            assert!(seen.insert(id.as_str()), "{id} twice");
            let code = id.as_str();
            assert_eq!(code.len(), 7, "{code}");
            assert!(
                ["ENC-", "POL-", "KMS-", "OBJ-", "ACC-"].contains(&&code[..4]),
                "{code}"
            );
            assert_eq!(code.parse::<RuleId>(), Ok(*id));
            assert_eq!(code.to_lowercase().parse::<RuleId>(), Ok(*id));
            let json = serde_json::to_string(id).unwrap();
            assert_eq!(json, format!("\"{code}\""));
            assert_eq!(serde_json::from_str::<RuleId>(&json).unwrap(), *id);
        }
        assert!("POL-999".parse::<RuleId>().is_err());
        assert!(serde_json::from_str::<RuleId>("\"POL-999\"").is_err());
    }

    #[test]
    fn catalogue_order_is_code_order_within_a_family() {
        // ALL is the order findings are reported in: ENC, POL, KMS, OBJ, then the
        // account-level ACC rules.
        let families: Vec<&str> = RuleId::ALL.iter().map(|id| &id.as_str()[..3]).collect();
        let mut deduped = families.clone();
        deduped.dedup();
        assert_eq!(deduped, ["ENC", "POL", "KMS", "OBJ", "ACC"]);
        for pair in RuleId::ALL.windows(2) {
            if pair[0].as_str()[..3] == pair[1].as_str()[..3] {
                assert!(pair[0] < pair[1]);
            }
        }
    }
}
