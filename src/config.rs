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
        Ok(Self::load_hashed(path)?.0)
    }

    /// [`ConfigFile::load`], and the SHA-256 of the bytes it parsed, which the report
    /// records: read once, so the hash is of exactly what was judged with.
    pub fn load_hashed(path: &Path) -> anyhow::Result<(Self, String)> {
        let bytes = std::fs::read(path)
            .map_err(|e| anyhow::anyhow!("cannot read config file {}: {e}", path.display()))?;
        let sha256 = crate::provenance::sha256_hex(&bytes);
        let text = String::from_utf8(bytes).map_err(|_| {
            anyhow::anyhow!(
                "cannot read config file {}: stream did not contain valid UTF-8",
                path.display()
            )
        })?;
        Self::parse(path, &text).map(|config| (config, sha256))
    }

    fn parse(path: &Path, text: &str) -> anyhow::Result<Self> {
        toml::from_str(text).map_err(|e| {
            // toml's Display spans several lines (it draws the offending span); its message
            // alone names the problem, and the span says where.
            let msg = e.message().lines().next().unwrap_or("").to_string();
            let at = e
                .span()
                .and_then(|s| line_and_column(text, s.start))
                .map(|(line, column)| format!(" (line {line}, column {column})"))
                .unwrap_or_default();
            anyhow::anyhow!("invalid config file {}{at}: {msg}", path.display())
        })
    }
}

/// The 1-based line and column (in characters) of byte `offset` in `text`, as an editor
/// shows them. A span may start right after a newline, or at the very end of a file that
/// has no final newline: both are positions on a line of their own. `None` for an offset
/// outside the text or inside a character, which a toml span never is.
fn line_and_column(text: &str, offset: usize) -> Option<(usize, usize)> {
    let before = text.get(..offset)?;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let column = before[line_start..].chars().count() + 1;
    Some((line, column))
}

#[cfg(test)]
mod tests {
    use super::line_and_column;

    #[test]
    fn positions_count_lines_and_characters_from_one() {
        let text = "a = 1\nbé = 2\r\n\nc";
        assert_eq!(line_and_column(text, 0), Some((1, 1)));
        assert_eq!(line_and_column(text, 4), Some((1, 5)));
        // Right after a newline: the start of the next line, not the end of this one.
        assert_eq!(line_and_column(text, 6), Some((2, 1)));
        // After the two-byte é: column counts characters.
        assert_eq!(line_and_column(text, 9), Some((2, 3)));
        assert_eq!(line_and_column(text, 15), Some((3, 1)));
        // The end of a file without a final newline.
        assert_eq!(line_and_column(text, text.len()), Some((4, 2)));
        assert_eq!(line_and_column(text, text.len() + 1), None);
        assert_eq!(line_and_column(text, 8), None, "inside é");
    }
}
