//! Making untrusted text safe to show: bucket names, object keys, key aliases, policy text
//! and server error messages all come from the audited endpoint, and a hostile endpoint
//! can put anything in them.
//!
//! Two destinations need protecting:
//!
//! * a **terminal**, where ESC starts a control sequence (clear the screen, set the window
//!   title, rewrite what the auditor sees), BEL, CR and backspace move or overwrite output,
//!   and bidi overrides, zero-width characters and line separators make text read
//!   differently from what it is ([`terminal`]);
//! * a **spreadsheet**, which runs a cell starting with `=`, `+`, `-` or `@` (or TAB/CR,
//!   which some importers strip before looking) as a formula ([`spreadsheet_cell`],
//!   [`spreadsheet_text`]), following OWASP's CSV-injection guidance.
//!
//! Both replace every [hidden](is_hidden) character with a visible escape, so the auditor
//! still sees that the name carries one, and which: `\n`, `\r`, `\t`, `\xHH` for the other
//! ASCII controls and DEL, `\u{hhhh}` for everything else (C1 controls included). The
//! escaping is for display and is one-way: a backslash is left as it is, so a name that
//! literally contains the text `\x1b` looks like one that contains ESC. The exact strings
//! are in the JSON report (and, URL-encoded, in the object inventory).
//!
//! Every function returns [`Cow::Borrowed`] when there is nothing to change, which is
//! every well-formed bucket name and nearly every message: clean text costs a scan, no
//! allocation.

use std::borrow::Cow;
use std::fmt::Write as _;

/// For a terminal: every hidden character made visible, line feeds included.
///
/// A finding message is one line by design, so a line feed in one can only come from a
/// hostile name; shown raw it would start a new line inside the table's cell, where it
/// could pass for a row of its own (`│ pass │ ...`). The fatal error line stays one line
/// for the same reason. TAB is escaped too: the terminal expands it to a width the table's
/// layout did not count.
pub fn terminal(s: &str) -> Cow<'_, str> {
    escape(s, is_hidden)
}

/// For a one-line spreadsheet cell: every hidden character made visible (as
/// [`terminal`]), then, if the cell would start with `=`, `+`, `-` or `@`, a single
/// quote in front (OWASP's remedy: the spreadsheet shows the text and runs nothing).
///
/// A leading TAB or CR, which OWASP also lists, is escaped to `\t` / `\r` first, so it can
/// no longer hide a formula character behind it.
///
/// A leading `-` is quoted even in front of a number: `-2+3` is a formula, and telling it
/// apart from `-5` is a parse this module should not need to get right. The findings CSV
/// has no numeric column, so no number is lost; the inventory writes its numbers itself
/// and does not pass them through here.
pub fn spreadsheet_cell(s: &str) -> Cow<'_, str> {
    defuse_formula(escape(s, is_hidden))
}

/// As [`spreadsheet_cell`], but line feeds are kept: for text that is several lines by
/// design (a remediation carrying the merged policy to paste). The CSV writer quotes such
/// a cell and a spreadsheet shows the line breaks inside it; a line feed cannot start a
/// new cell, so it cannot start a formula either. A cell starting with one is quoted.
pub fn spreadsheet_text(s: &str) -> Cow<'_, str> {
    defuse_formula(escape(s, |c| c != '\n' && is_hidden(c)))
}

/// A character that must not reach a terminal or a cell as it is:
///
/// * control characters (Unicode `Cc`): C0 (U+0000–U+001F, line feed and TAB included),
///   DEL and C1 (U+0080–U+009F, where U+009B is the 8-bit CSI);
/// * format characters (`Cf`): bidi embeddings, overrides and isolates (U+202A–U+202E,
///   U+2066–U+2069), marks (U+200E, U+200F, U+061C), zero-width space/joiners (U+200B–U+200D),
///   word joiner and invisible operators (U+2060–U+2064), BOM (U+FEFF), soft hyphen, tags;
/// * line and paragraph separators (U+2028, U+2029: `Zl`, `Zp`), which some terminals and
///   editors break lines at;
/// * the rest of Unicode's default-ignorable code points (fillers such as U+3164, variation
///   selectors, the combining grapheme joiner), which render as nothing and so can make two
///   different names look the same.
///
/// The price is that an emoji sequence joined by U+200D or carrying a variation selector
/// shows its joiners as escapes; for an audit, seeing every code point beats a pretty name.
pub fn is_hidden(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_control();
    }
    if c.is_control() {
        return true;
    }
    let c = u32::from(c);
    INVISIBLE
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Non-ASCII code points that are `Cf`, `Zl`, `Zp` or Default_Ignorable_Code_Point
/// (Unicode 16.0), as sorted, disjoint inclusive ranges. Unassigned code points inside
/// these blocks are included: Unicode reserves them as ignorable, and a future format
/// character there should not slip through an old build.
const INVISIBLE: &[(u32, u32)] = &[
    (0x00AD, 0x00AD),   // soft hyphen
    (0x034F, 0x034F),   // combining grapheme joiner
    (0x0600, 0x0605),   // Arabic number signs (prepended concatenation marks)
    (0x061C, 0x061C),   // Arabic letter mark
    (0x06DD, 0x06DD),   // Arabic end of ayah
    (0x070F, 0x070F),   // Syriac abbreviation mark
    (0x0890, 0x0891),   // Arabic pound/piastre mark above
    (0x08E2, 0x08E2),   // Arabic disputed end of ayah
    (0x115F, 0x1160),   // Hangul fillers
    (0x17B4, 0x17B5),   // Khmer inherent vowels
    (0x180B, 0x180F),   // Mongolian variation selectors and vowel separator
    (0x200B, 0x200F),   // zero-width space, ZWNJ, ZWJ, LRM, RLM
    (0x2028, 0x202E),   // line/paragraph separators, bidi embeddings and overrides
    (0x2060, 0x206F),   // word joiner, invisible operators, bidi isolates, deprecated
    (0x3164, 0x3164),   // Hangul filler
    (0xFE00, 0xFE0F),   // variation selectors
    (0xFEFF, 0xFEFF),   // zero-width no-break space (BOM)
    (0xFFA0, 0xFFA0),   // halfwidth Hangul filler
    (0xFFF0, 0xFFFB),   // reserved, interlinear annotation
    (0x110BD, 0x110BD), // Kaithi number sign
    (0x110CD, 0x110CD), // Kaithi number sign above
    (0x13430, 0x1343F), // Egyptian hieroglyph format controls
    (0x1BCA0, 0x1BCA3), // shorthand format controls
    (0x1D173, 0x1D17A), // musical symbol format controls
    (0xE0000, 0xE0FFF), // tags, variation selectors supplement, reserved
];

/// `s` with every character for which `hide` holds replaced by its visible escape.
fn escape(s: &str, hide: impl Fn(char) -> bool) -> Cow<'_, str> {
    let Some(first) = s.find(&hide) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len() + 8);
    out.push_str(&s[..first]);
    for c in s[first..].chars() {
        if hide(c) {
            push_escape(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn push_escape(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        // Writing to a String cannot fail.
        c if c.is_ascii() => {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
    }
}

/// Characters that make a spreadsheet read a cell as a formula when they start it.
/// TAB and CR never reach here raw (they are escaped); a kept line feed is included.
fn starts_formula(cell: &str) -> bool {
    matches!(
        cell.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r' | b'\n')
    )
}

fn defuse_formula(cell: Cow<'_, str>) -> Cow<'_, str> {
    if starts_formula(&cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        cell
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn clean_text_is_borrowed_unchanged() {
        for s in [
            "",
            "my-bucket.example",
            "AccessDenied (HTTP 403): café 日本語 🎉",
            r#"policy says "Deny" \ path"#,
        ] {
            assert!(matches!(terminal(s), Cow::Borrowed(b) if b == s), "{s:?}");
            assert!(
                matches!(spreadsheet_cell(s), Cow::Borrowed(b) if b == s),
                "{s:?}"
            );
            assert!(
                matches!(spreadsheet_text(s), Cow::Borrowed(b) if b == s),
                "{s:?}"
            );
        }
    }

    #[test]
    fn terminal_controls_become_visible_escapes() {
        assert_eq!(
            terminal("a\x1b]0;pwned\x07b\x1b[2Jc\rd\x08e\x7ff\u{9b}g"),
            r"a\x1b]0;pwned\x07b\x1b[2Jc\rd\x08e\x7ff\u{9b}g"
        );
        assert_eq!(terminal("one\ntwo\tthree\0"), r"one\ntwo\tthree\x00");
    }

    #[test]
    fn bidi_zero_width_and_separators_become_visible_escapes() {
        assert_eq!(
            terminal("invoice\u{202e}fdp.exe"),
            r"invoice\u{202e}fdp.exe"
        );
        assert_eq!(
            terminal("a\u{2066}b\u{2069}c\u{200b}d\u{feff}e\u{2028}f\u{2029}g"),
            r"a\u{2066}b\u{2069}c\u{200b}d\u{feff}e\u{2028}f\u{2029}g"
        );
        assert_eq!(
            terminal("x\u{e0041}\u{3164}\u{ad}"),
            r"x\u{e0041}\u{3164}\u{ad}"
        );
    }

    #[test]
    fn visible_non_ascii_is_left_alone() {
        // Letters, combining accents, CJK, emoji, non-breaking space: all visible.
        for s in [
            "cafe\u{301}",
            "\u{65e5}\u{672c}",
            "\u{1f600}",
            "a\u{a0}b",
            "\u{2122}",
        ] {
            assert_eq!(terminal(s), s);
        }
    }

    #[test]
    fn formula_starts_are_quoted() {
        for (raw, cell) in [
            (
                "=HYPERLINK(\"http://x\",\"y\")",
                "'=HYPERLINK(\"http://x\",\"y\")",
            ),
            ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
            ("-2+3", "'-2+3"),
            ("-5", "'-5"),
            ("@SUM(1)", "'@SUM(1)"),
        ] {
            assert_eq!(spreadsheet_cell(raw), cell);
            assert_eq!(spreadsheet_text(raw), cell);
        }
        // Not at the start: a formula character inside text is just text.
        assert_eq!(spreadsheet_cell("a=b+c-d@e"), "a=b+c-d@e");
    }

    #[test]
    fn leading_tab_and_cr_are_escaped_so_nothing_hides_behind_them() {
        assert_eq!(spreadsheet_cell("\t=1+1"), r"\t=1+1");
        assert_eq!(spreadsheet_cell("\r=1+1"), r"\r=1+1");
        assert_eq!(spreadsheet_cell("\u{202e}=1+1"), r"\u{202e}=1+1");
        assert_eq!(spreadsheet_cell("x\x1b[2J"), r"x\x1b[2J");
    }

    #[test]
    fn multi_line_text_keeps_line_feeds_only() {
        assert_eq!(
            spreadsheet_text("Add this:\n{\n  \"Sid\": \"x\"\n}\r\x1b"),
            "Add this:\n{\n  \"Sid\": \"x\"\n}\\r\\x1b"
        );
        assert_eq!(spreadsheet_cell("a\nb"), r"a\nb");
        assert_eq!(spreadsheet_text("\n=1+1"), "'\n=1+1");
    }

    proptest! {
        /// Whatever the input, a terminal gets no control, format or invisible character.
        #[test]
        fn terminal_output_has_nothing_hidden(s in any::<String>()) {
            let out = terminal(&s);
            prop_assert!(!out.chars().any(is_hidden), "{:?} -> {:?}", s, out);
        }

        /// A spreadsheet cell never starts a formula and carries nothing hidden; the
        /// multi-line variant differs only in keeping line feeds.
        #[test]
        fn spreadsheet_cells_are_inert(s in any::<String>()) {
            for (cell, lf) in [(spreadsheet_cell(&s), false), (spreadsheet_text(&s), true)] {
                prop_assert!(!starts_formula(&cell), "{:?} -> {:?}", s, cell);
                prop_assert!(
                    !cell.chars().any(|c| is_hidden(c) && !(lf && c == '\n')),
                    "{:?} -> {:?}", s, cell
                );
            }
        }

        /// Text with nothing to escape comes back unchanged and unallocated; anything else
        /// keeps every visible character, in order (escapes only add text).
        #[test]
        fn visible_text_survives(s in any::<String>()) {
            let out = terminal(&s);
            let kept: String = s.chars().filter(|c| !is_hidden(*c)).collect();
            if kept.len() == s.len() {
                prop_assert!(matches!(out, Cow::Borrowed(_)));
            }
            let mut rest = out.chars();
            for c in kept.chars() {
                prop_assert!(rest.any(|o| o == c), "{:?} lost {:?}", s, c);
            }
        }

        /// The same for strings built from the characters that matter, which `any` rarely
        /// draws: formula starts, controls, bidi, plain text.
        #[test]
        fn hostile_mixes_are_inert(parts in proptest::collection::vec(prop_oneof![
            Just("=".to_string()), Just("+".to_string()), Just("-".to_string()),
            Just("@".to_string()), Just("\t".to_string()), Just("\r".to_string()),
            Just("\n".to_string()), Just("\x1b".to_string()), Just("\x07".to_string()),
            Just("\u{9b}".to_string()), Just("\u{202e}".to_string()),
            Just("\u{200b}".to_string()), Just("'".to_string()), Just("\\".to_string()),
            "[a-z0-9 ]{0,4}",
        ], 0..8)) {
            let s = parts.concat();
            for cell in [spreadsheet_cell(&s), spreadsheet_text(&s)] {
                prop_assert!(!starts_formula(&cell), "{:?} -> {:?}", s, cell);
                let raw = ['\x1b', '\x07', '\r', '\t', '\u{9b}', '\u{202e}'];
                prop_assert!(!cell.contains(raw), "{:?} -> {:?}", s, cell);
            }
            let t = terminal(&s);
            let raw = ['\x1b', '\x07', '\r', '\t', '\n', '\u{9b}', '\u{202e}', '\u{200b}'];
            prop_assert!(!t.contains(raw), "{:?} -> {:?}", s, t);
        }
    }

    #[test]
    fn the_invisible_table_is_sorted_and_disjoint() {
        for pair in INVISIBLE.windows(2) {
            assert!(pair[0].0 <= pair[0].1 && pair[0].1 < pair[1].0, "{pair:x?}");
        }
        // Both ends of a range and a neighbour outside it.
        assert!(is_hidden('\u{2028}') && is_hidden('\u{202e}') && !is_hidden('\u{202f}'));
        assert!(is_hidden('\u{e0fff}') && !is_hidden('\u{e1000}'));
        assert!(is_hidden('\u{ad}') && !is_hidden('\u{ac}'));
    }
}
