//! Provenance: what a report records about the run and the build behind it, so a reader
//! can tell what was judged, by which code, with which settings: the build's git commit,
//! a hash of the embedded rule catalogue, the SHA-256 of the config file, and the command
//! line with secrets removed.

use std::ffi::OsStr;
use std::path::Path;
use std::sync::LazyLock;

use sha2::{Digest, Sha256};

/// The git commit this binary was built from ("6e8d0b8", "6e8d0b8-dirty" when tracked
/// files differed); `None` outside a git checkout of the crate (see `build.rs`).
pub fn tool_commit() -> Option<&'static str> {
    Some(env!("S3AUDIT_COMMIT")).filter(|c| !c.is_empty())
}

/// SHA-256 of the rule catalogue embedded in this binary: every `rules/*.toml` metadata
/// file and every `rules/frameworks/*.toml` catalogue (see [`catalogue_digest`]). Two
/// builds with the same hash carry the same titles, severities, remediations and
/// framework mappings, whatever their commit.
pub fn catalogue_sha256() -> &'static str {
    static DIGEST: LazyLock<String> = LazyLock::new(|| {
        let rules = crate::rules::metadata::files()
            .iter()
            .map(|(name, text)| (format!("rules/{name}"), *text));
        let frameworks = crate::rules::frameworks::files()
            .iter()
            .map(|(name, text)| (format!("rules/frameworks/{name}"), *text));
        catalogue_digest(rules.chain(frameworks))
    });
    &DIGEST
}

/// SHA-256 (lower-case hex) over `(path, text)` files: sorted by path, each path and text
/// length-prefixed (so no two different lists hash alike), line endings normalised to LF
/// (a checkout with CRLF line endings embeds the same catalogue). The same files give the
/// same hash on every machine; changing one character of one file changes it.
pub fn catalogue_digest<N, T>(files: impl IntoIterator<Item = (N, T)>) -> String
where
    N: AsRef<str>,
    T: AsRef<str>,
{
    let mut files: Vec<(String, String)> = files
        .into_iter()
        .map(|(n, t)| (n.as_ref().to_string(), t.as_ref().replace("\r\n", "\n")))
        .collect();
    files.sort();
    let mut hasher = Sha256::new();
    for (name, text) in &files {
        for part in [name, text] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
    }
    hex(&hasher.finalize())
}

/// SHA-256 of `bytes`, lower-case hex, as `sha256sum` prints it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// This process's command line with secrets removed (see [`redact_command_line`]).
pub fn command_line() -> Vec<String> {
    redact_command_line(std::env::args_os())
}

/// What replaces a secret.
pub const REDACTED: &str = "<redacted>";

/// Words that make an option's value a secret: `--secret-access-key X`,
/// `--session-token=Y`, `--db-password Z`.
const SECRET_WORDS: [&str; 5] = ["key", "secret", "token", "password", "session"];

/// s3audit's own options whose names hold one of those words but whose values are a
/// file path or a KMS key's identifier, which say what was run and are not secrets.
const PUBLIC_OPTIONS: [&str; 5] = [
    "sign-key",
    "pubkey",
    "allowed-kms-key",
    "default-kms-key",
    "key-arn",
];

/// `args` (the program name first) as a report may record them: the program's file name
/// without its directory; the value of every option whose name holds a secret word
/// (except [`PUBLIC_OPTIONS`]), given as `--name VALUE` or `--name=VALUE`, replaced by
/// [`REDACTED`]; the value of every `NAME=VALUE` argument (an environment assignment)
/// likewise; and the user and password of a URL (`https://user:pass@host`). Flags stay, so
/// the line still says what was asked. Nothing from the environment is added: credentials
/// in `AWS_*` variables never reach a report.
pub fn redact_command_line<S: AsRef<OsStr>>(args: impl IntoIterator<Item = S>) -> Vec<String> {
    let mut out = Vec::new();
    let mut value_is_secret = false;
    let mut options_ended = false;
    for (i, arg) in args.into_iter().enumerate() {
        let arg = arg.as_ref().to_string_lossy().into_owned();
        if i == 0 {
            let program = Path::new(&arg)
                .file_name()
                .map_or_else(|| arg.clone(), |n| n.to_string_lossy().into_owned());
            out.push(program);
            continue;
        }
        if std::mem::take(&mut value_is_secret) {
            out.push(REDACTED.to_string());
            continue;
        }
        if !options_ended && arg == "--" {
            options_ended = true;
            out.push(arg);
            continue;
        }
        if !options_ended && let Some(option) = arg.strip_prefix("--") {
            match option.split_once('=') {
                Some((name, _)) if is_secret_option(name) => {
                    out.push(format!("--{name}={REDACTED}"));
                }
                Some(_) => out.push(without_userinfo(&arg)),
                None => {
                    value_is_secret = is_secret_option(option);
                    out.push(arg);
                }
            }
            continue;
        }
        if let Some((name, _)) = arg.split_once('=')
            && is_variable_name(name)
        {
            out.push(format!("{name}={REDACTED}"));
            continue;
        }
        out.push(without_userinfo(&arg));
    }
    out
}

fn is_secret_option(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    !PUBLIC_OPTIONS.contains(&name.as_str()) && SECRET_WORDS.iter().any(|w| name.contains(w))
}

/// `AWS_SECRET_ACCESS_KEY`, `x`, `_y1`: what a shell takes as `NAME=VALUE` assignment.
fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `arg` with the user information of a URL in it (`scheme://user:pass@host/...`)
/// replaced by [`REDACTED`]; anything else unchanged.
fn without_userinfo(arg: &str) -> String {
    let Some(scheme_end) = arg.find("://") else {
        return arg.to_string();
    };
    let authority_start = scheme_end + 3;
    let rest = &arg[authority_start..];
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_len].rfind('@') {
        Some(at) => format!(
            "{}{REDACTED}{}",
            &arg[..authority_start],
            &arg[authority_start + at..]
        ),
        None => arg.to_string(),
    }
}

/// A command line as one line a shell would take back: each argument that holds anything
/// but plain characters single-quoted.
pub fn shell_words(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            let plain = !a.is_empty()
                && a.chars().all(|c| {
                    c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c) || !c.is_ascii()
                });
            if plain {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(args: &[&str]) -> Vec<String> {
        redact_command_line(args)
    }

    #[test]
    fn secret_values_go_and_flags_stay() {
        assert_eq!(
            redact(&[
                "/usr/local/bin/s3audit",
                "scan",
                "--secret-access-key",
                "AKIASECRET",
                "--foo-token=tok",
                "--Session=abc",
                "--bucket",
                "b",
                "--prefix=logs/",
            ]),
            [
                "s3audit",
                "scan",
                "--secret-access-key",
                REDACTED,
                "--foo-token=<redacted>",
                "--Session=<redacted>",
                "--bucket",
                "b",
                "--prefix=logs/",
            ]
        );
    }

    #[test]
    fn paths_and_key_identifiers_of_s3audit_options_stay() {
        let args = [
            "s3audit",
            "evaluate",
            "snap.json",
            "--sign-key",
            "id_ed25519",
            "--allowed-kms-key=alias/app",
            "--evidence",
            "ev",
        ];
        assert_eq!(redact(&args), args);
    }

    #[test]
    fn assignments_and_url_passwords_lose_their_values() {
        assert_eq!(
            redact(&[
                "s3audit",
                "AWS_SECRET_ACCESS_KEY=abc",
                "--endpoint-url",
                "https://user:pw@minio.local:9000/x",
                "--endpoint-url=http://u@h",
                "--",
                "--password",
                "kept-after-double-dash",
            ]),
            [
                "s3audit",
                "AWS_SECRET_ACCESS_KEY=<redacted>",
                "--endpoint-url",
                "https://<redacted>@minio.local:9000/x",
                "--endpoint-url=http://<redacted>@h",
                "--",
                "--password",
                "kept-after-double-dash",
            ]
        );
        // A path with '=' in a directory name is not an assignment; a URL without user
        // information is unchanged.
        assert_eq!(
            redact(&["s3audit", "./a=b.json", "http://h/x@y"]),
            ["s3audit", "./a=b.json", "http://h/x@y"]
        );
    }

    #[test]
    fn shell_words_quote_what_a_shell_would_split() {
        let args: Vec<String> = ["s3audit", "scan", "--prefix", "my logs/", "it's", ""]
            .map(String::from)
            .to_vec();
        assert_eq!(
            shell_words(&args),
            r"s3audit scan --prefix 'my logs/' 'it'\''s' ''"
        );
    }

    #[test]
    fn the_catalogue_hash_is_stable_and_follows_every_character() {
        let files = [("rules/A.toml", "id = \"A\"\n"), ("rules/B.toml", "x\n")];
        let digest = catalogue_digest(files);
        assert_eq!(digest.len(), 64);
        assert!(
            digest
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_uppercase())
        );
        // Order of the list and line endings do not matter; text and names do.
        assert_eq!(catalogue_digest([files[1], files[0]]), digest);
        assert_eq!(
            catalogue_digest([("rules/A.toml", "id = \"A\"\r\n"), files[1]]),
            digest
        );
        assert_ne!(
            catalogue_digest([("rules/A.toml", "id = \"a\"\n"), files[1]]),
            digest
        );
        assert_ne!(
            catalogue_digest([("rules/C.toml", "id = \"A\"\n"), files[1]]),
            digest
        );
        // Moving text between files changes it (the lengths frame each part).
        assert_ne!(
            catalogue_digest([("rules/A.toml", "id = \"A\"\nx\n"), ("rules/B.toml", "")]),
            digest
        );
        assert_eq!(catalogue_sha256().len(), 64);
        assert_eq!(catalogue_sha256(), catalogue_sha256());
    }

    #[test]
    fn sha256_is_sha256sums() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
