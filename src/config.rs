//! Validated settings the rest of the program trusts, built once from the command line and
//! the optional config file (`--config`).

use std::path::Path;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::model::{KeyInfo, SseMode};
use crate::rules::waivers::{Waiver, date_text, parse_date};

/// Knobs of the rules themselves (as opposed to how a scan runs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleConfig {
    /// KMS keys uploads may use (ARNs, key ids or alias names). Empty: any customer key.
    pub allowed_kms_keys: Vec<String>,
    /// The weakest object encryption OBJ-002 accepts.
    pub required_object_mode: SseMode,
    /// Accepted failures (`[[waiver]]`), in file order. The rules never see them: they are
    /// applied to the findings afterwards (`rules::waivers::apply`).
    pub waivers: Vec<Waiver>,
    /// The oldest object data OBJ-007 accepts (`--max-age`): an S3 Inventory created longer
    /// before the scan started fails it.
    pub max_object_data_age: std::time::Duration,
}

/// OBJ-007's default age limit: a weekly inventory (delivered every Sunday) plus a day
/// for its delivery.
pub const DEFAULT_MAX_OBJECT_DATA_AGE: std::time::Duration =
    std::time::Duration::from_secs(8 * 24 * 3600);

impl Default for RuleConfig {
    fn default() -> Self {
        RuleConfig {
            allowed_kms_keys: Vec::new(),
            required_object_mode: SseMode::SseKms,
            waivers: Vec::new(),
            max_object_data_age: DEFAULT_MAX_OBJECT_DATA_AGE,
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
    /// OBJ-007's age limit as a duration (`"8d"`, `"36h"`); `--max-age` overrides it.
    pub max_object_data_age: Option<String>,
    /// `[[waiver]]` tables as written; [`ConfigFile::read`] validates them into `waivers`.
    #[serde(default, rename = "waiver")]
    waiver_tables: Vec<WaiverTable>,
    /// The waivers, validated.
    #[serde(skip)]
    pub waivers: Vec<Waiver>,
}

/// One `[[waiver]]` as written. Every field is required (a waiver must say what it covers,
/// why, who answers for it and until when) and unknown keys are errors, like the rest of
/// the file: a misspelt `expiry` must not become a waiver that never expires. Spans are kept
/// so that a value that parses but is wrong (an empty reason) is reported at its line too.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WaiverTable {
    rule: Spanned<String>,
    resource: Spanned<String>,
    reason: Spanned<String>,
    owner: Spanned<String>,
    expires: Spanned<Expiry>,
}

/// `expires`: a TOML date (`2027-03-31`) or the same as a string (`"2027-03-31"`).
#[derive(Debug)]
struct Expiry(time::Date);

impl<'de> Deserialize<'de> for Expiry {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        // Through toml's own value, which knows its datetime from a string.
        let expected = "expected a date such as 2027-03-31";
        match toml::Value::deserialize(d)? {
            toml::Value::Datetime(dt) => match (dt.date, dt.time, dt.offset) {
                (Some(_), None, None) => parse_date(&dt.to_string())
                    .map(Expiry)
                    .ok_or_else(|| D::Error::custom(format!("invalid date {dt}: {expected}"))),
                _ => Err(D::Error::custom(format!(
                    "expires = {dt} is not a date: {expected} (a waiver lasts whole days)"
                ))),
            },
            toml::Value::String(s) => parse_date(&s)
                .map(Expiry)
                .ok_or_else(|| D::Error::custom(format!("invalid date {s:?}: {expected}"))),
            other => Err(D::Error::custom(format!(
                "invalid expires ({}): {expected}",
                other.type_str()
            ))),
        }
    }
}

impl ConfigFile {
    /// The config file at `path`, and the bytes it was parsed from: read once, so the
    /// report's SHA-256 of the file and the copy in an evidence bundle are of exactly what
    /// was judged with.
    pub fn read(path: &Path) -> anyhow::Result<(Self, Vec<u8>)> {
        let bytes = std::fs::read(path)
            .map_err(|e| anyhow::anyhow!("cannot read config file {}: {e}", path.display()))?;
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            anyhow::anyhow!(
                "cannot read config file {}: stream did not contain valid UTF-8",
                path.display()
            )
        })?;
        let config = Self::parse(text, &path.display().to_string())?;
        Ok((config, bytes))
    }

    /// The file's `text`; errors name the file as `name` and say where: one line each.
    pub fn parse(text: &str, name: &str) -> anyhow::Result<Self> {
        let invalid = |at: Option<usize>, msg: &str| {
            let at = at
                .and_then(|start| line_and_column(text, start))
                .map(|(line, column)| format!(" (line {line}, column {column})"))
                .unwrap_or_default();
            anyhow::anyhow!("invalid config file {name}{at}: {msg}")
        };
        let mut file: ConfigFile = toml::from_str(text).map_err(|e| {
            // toml's Display spans several lines (it draws the offending span); its message
            // alone names the problem, and the span says where.
            let msg = e.message().lines().next().unwrap_or("").to_string();
            invalid(e.span().map(|s| s.start), &msg)
        })?;
        file.waivers = std::mem::take(&mut file.waiver_tables)
            .into_iter()
            .map(|t| t.validate().map_err(|(at, msg)| invalid(Some(at), &msg)))
            .collect::<anyhow::Result<_>>()?;
        Ok(file)
    }
}

impl WaiverTable {
    /// The waiver, or where and why it is wrong: an empty field, or a rule pattern that
    /// matches no rule (a typo would otherwise waive nothing, silently, until it expires).
    fn validate(self) -> Result<Waiver, (usize, String)> {
        for (name, field) in [
            ("rule", &self.rule),
            ("resource", &self.resource),
            ("reason", &self.reason),
            ("owner", &self.owner),
        ] {
            if field.get_ref().trim().is_empty() {
                return Err((
                    field.span().start,
                    format!(
                        "waiver {name} is empty: a waiver says what it covers, why, and who answers for it"
                    ),
                ));
            }
        }
        let rule = self.rule.get_ref().trim();
        if !crate::rules::metadata::catalog()
            .iter()
            .any(|m| crate::report::rule_matches(rule, &m.id))
        {
            return Err((
                self.rule.span().start,
                format!(
                    "waiver rule {rule:?} matches no rule (`s3audit rules` lists them: ENC-001, POL-*, ...)"
                ),
            ));
        }
        Ok(Waiver {
            rule: rule.to_string(),
            resource: self.resource.get_ref().trim().to_string(),
            reason: self.reason.into_inner().trim().to_string(),
            owner: self.owner.into_inner().trim().to_string(),
            expires: self.expires.into_inner().0,
        })
    }
}

impl RuleConfig {
    /// These settings as a config file `--config` reads back to the same settings (the
    /// evidence bundle's `config.toml` when they did not come from one file alone).
    pub fn to_toml(&self) -> Result<String, toml::ser::Error> {
        #[derive(Serialize)]
        struct Settings<'a> {
            allowed_kms_keys: &'a [String],
            required_object_mode: SseMode,
            #[serde(skip_serializing_if = "Option::is_none")]
            max_object_data_age: Option<String>,
            #[serde(skip_serializing_if = "Vec::is_empty")]
            waiver: Vec<WaiverOut<'a>>,
        }
        #[derive(Serialize)]
        struct WaiverOut<'a> {
            rule: &'a str,
            resource: &'a str,
            reason: &'a str,
            owner: &'a str,
            expires: toml::value::Datetime,
        }
        let waiver = self
            .waivers
            .iter()
            .map(|w| {
                let expires = date_text(w.expires);
                Ok(WaiverOut {
                    rule: &w.rule,
                    resource: &w.resource,
                    reason: &w.reason,
                    owner: &w.owner,
                    expires: expires.parse().map_err(|_| {
                        <toml::ser::Error as serde::ser::Error>::custom(format!(
                            "waiver expiry {expires} is not a TOML date"
                        ))
                    })?,
                })
            })
            .collect::<Result<_, toml::ser::Error>>()?;
        toml::to_string(&Settings {
            allowed_kms_keys: &self.allowed_kms_keys,
            required_object_mode: self.required_object_mode,
            max_object_data_age: (self.max_object_data_age != DEFAULT_MAX_OBJECT_DATA_AGE)
                .then(|| humantime::format_duration(self.max_object_data_age).to_string()),
            waiver,
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
    use super::{ConfigFile, RuleConfig, line_and_column};
    use crate::model::SseMode;
    use time::macros::date;

    const WAIVERS: &str = r#"
[[waiver]]
rule = "POL-001"
resource = "legacy-*"
reason = "Legacy uploader cannot send TLS 1.2; replacement tracked in SEC-123"
owner = "platform-team@example.com"
expires = 2027-03-31

[[waiver]]
rule = "enc-00?"
resource = "arn:aws:s3:::b"
reason = "r"
owner = "o"
expires = "2026-01-02"
"#;

    #[test]
    fn waivers_take_a_toml_date_or_a_date_string() {
        let file = ConfigFile::parse(WAIVERS, "c.toml").unwrap();
        assert_eq!(file.waivers.len(), 2);
        assert_eq!(file.waivers[0].expires, date!(2027 - 03 - 31));
        assert_eq!(file.waivers[1].expires, date!(2026 - 01 - 02));
        assert_eq!(file.waivers[1].rule, "enc-00?");
    }

    /// The evidence bundle's config.toml, when written from the effective settings, reads
    /// back to the same settings, waivers included: `evaluate --config` of a bundle
    /// reproduces its report.
    #[test]
    fn settings_written_as_toml_read_back_the_same() {
        let file = ConfigFile::parse(WAIVERS, "c.toml").unwrap();
        let config = RuleConfig {
            allowed_kms_keys: vec!["alias/app".into()],
            required_object_mode: SseMode::SseS3,
            waivers: file.waivers,
            max_object_data_age: std::time::Duration::from_secs(36 * 3600),
        };
        let text = config.to_toml().unwrap();
        let back = ConfigFile::parse(&text, "out.toml").unwrap();
        assert_eq!(back.allowed_kms_keys, config.allowed_kms_keys);
        assert_eq!(
            back.max_object_data_age
                .as_deref()
                .map(|t| humantime::parse_duration(t).unwrap()),
            Some(config.max_object_data_age)
        );
        assert_eq!(back.required_object_mode, Some(config.required_object_mode));
        assert_eq!(back.waivers, config.waivers);
        assert!(
            text.contains("expires = 2027-03-31\n"),
            "a TOML date: {text}"
        );
        let plain = RuleConfig::default().to_toml().unwrap();
        assert!(!plain.contains("waiver"), "{plain}");
        assert!(!plain.contains("max_object_data_age"), "{plain}");
    }

    #[test]
    fn a_bad_waiver_is_one_line_naming_where() {
        for (text, line, says) in [
            (
                WAIVERS.replace("owner = \"o\"", "owner = \"\""),
                13,
                "waiver owner is empty",
            ),
            (
                WAIVERS.replace("expires = \"2026-01-02\"", "expiry = 2026-01-02"),
                14,
                "unknown field `expiry`",
            ),
            (WAIVERS.replace("2027-03-31", "2027-13-31"), 7, "invalid"),
            (
                WAIVERS.replace("enc-00?", "ENC-9*"),
                10,
                "waiver rule \"ENC-9*\" matches no rule",
            ),
            (
                WAIVERS.replace("resource = \"legacy-*\"\n", ""),
                2,
                "missing field `resource`",
            ),
        ] {
            let e = ConfigFile::parse(&text, "c.toml").unwrap_err().to_string();
            assert_eq!(e.lines().count(), 1, "{e}");
            assert!(
                e.starts_with(&format!("invalid config file c.toml (line {line}, ")),
                "{e}"
            );
            assert!(e.contains(says), "{e}");
        }
    }

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
