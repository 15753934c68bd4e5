//! Validated settings the rest of the program trusts, built once from the command line and
//! the optional config file (`--config`).

use std::path::Path;

use serde::Deserialize;

use crate::model::{KeyInfo, SseMode};

/// Knobs of the rules themselves (as opposed to how a scan runs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleConfig {
    /// KMS keys uploads may use (ARNs, key ids or alias names). Empty: any customer key.
    pub allowed_kms_keys: Vec<String>,
    /// The weakest object encryption OBJ-002 accepts.
    pub required_object_mode: SseMode,
}

impl Default for RuleConfig {
    fn default() -> Self {
        RuleConfig {
            allowed_kms_keys: Vec::new(),
            required_object_mode: SseMode::SseKms,
        }
    }
}

impl RuleConfig {
    /// Whether `key` is one of the allowed keys, matching its ARN, id or any alias
    /// (as a name or an alias ARN).
    pub fn key_allowed(&self, key: &KeyInfo) -> bool {
        let aliases = key.aliases.present().map(Vec::as_slice).unwrap_or(&[]);
        self.allowed_kms_keys.iter().any(|allowed| {
            allowed == &key.arn
                || allowed == &key.key_id
                || aliases
                    .iter()
                    .any(|a| allowed == a || allowed.ends_with(&format!(":{a}")))
        })
    }
}

/// The config file (`s3audit.toml`): rule settings an organisation pins once.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub allowed_kms_keys: Vec<String>,
    pub required_object_mode: Option<SseMode>,
}

impl ConfigFile {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read config file {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| {
            // toml's message spans several lines (it draws the offending span); the first
            // line names the problem and the rest repeat the input.
            let msg = e.message().to_string();
            let at = e
                .span()
                .map(|s| {
                    let line = text[..s.start].lines().count().max(1);
                    format!(" (line {line})")
                })
                .unwrap_or_default();
            anyhow::anyhow!("invalid config file {}{at}: {msg}", path.display())
        })
    }
}
