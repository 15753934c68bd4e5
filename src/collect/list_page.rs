//! ListObjectsV2 pages read straight from their XML, for the direct client's listing.
//!
//! Through the SDK a page of 1,000 keys cost 9% of a 1M-object scan's CPU (perf): its
//! generic deserializer builds a scoped decoder per element and an SDK object, with owned
//! strings for every field, per key. This reader walks the document once with `xmlparser`
//! and keeps only what the scan uses (key, size, storage class, last modified, common
//! prefixes, `IsTruncated`, the continuation token).
//!
//! It is stricter than the SDK's deserializer, never looser: a document that is not
//! well-formed, that is cut short (its root never closed), whose root is not
//! `ListBucketResult`, or that holds a value the SDK would refuse (a size that is not a
//! number, a date that is not one, an unknown entity) is an error, so a page is used only
//! when it was read whole.

use std::borrow::Cow;

use aws_sdk_s3::primitives::{DateTime, DateTimeFormat};
use xmlparser::{ElementEnd, Token, Tokenizer};

use super::head::query_value;

/// One `<Contents>` entry.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Content {
    pub key: Option<String>,
    pub size: Option<i64>,
    pub storage_class: Option<String>,
    /// As the SDK's `DateTime` displays it, so reports do not depend on the path.
    pub last_modified: Option<String>,
}

/// What the scan uses of a page.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ListPage {
    pub contents: Vec<Content>,
    /// `<CommonPrefixes><Prefix>`; `None` for a `<CommonPrefixes>` without one.
    pub prefixes: Vec<Option<String>>,
    pub truncated: Option<bool>,
    pub next_token: Option<String>,
}

/// Elements whose text is kept, by where they are.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Key,
    Size,
    StorageClass,
    LastModified,
    Prefix,
    IsTruncated,
    NextToken,
}

/// The query of a ListObjectsV2 request, encoded as the SDK encodes it: the survey's and
/// the direct lister's pages are asked for the same way.
pub fn query(
    prefix: &str,
    delimited: bool,
    start_after: Option<&str>,
    token: Option<&str>,
    max_keys: Option<i32>,
) -> String {
    let mut query = String::from("list-type=2");
    let mut param = |name: &str, value: &str| {
        query.push('&');
        query.push_str(name);
        query.push('=');
        query.push_str(&query_value(value));
    };
    if !prefix.is_empty() {
        param("prefix", prefix);
    }
    if delimited {
        param("delimiter", "/");
    }
    if let Some(after) = start_after {
        param("start-after", after);
    }
    if let Some(t) = token {
        param("continuation-token", t);
    }
    if let Some(n) = max_keys {
        param("max-keys", &n.to_string());
    }
    query
}

/// Reads one ListObjectsV2 page.
pub fn read(xml: &[u8]) -> Result<ListPage, String> {
    let xml = std::str::from_utf8(xml).map_err(|_| "listing page is not UTF-8".to_string())?;
    let mut page = ListPage::default();
    // Names of the open elements, root first.
    let mut open: Vec<&str> = Vec::with_capacity(4);
    let mut closed_root = false;
    let mut field: Option<Field> = None;
    let mut text = String::new();
    let mut content: Option<Content> = None;
    let mut prefix: Option<Option<String>> = None;
    for token in Tokenizer::from(xml) {
        let token = token.map_err(|e| format!("listing page is not well-formed XML: {e}"))?;
        match token {
            Token::ElementStart { local, .. } => {
                if closed_root {
                    return Err("listing page has content after its root element".to_string());
                }
                let name = local.as_str();
                let parent = open.last().copied();
                match (open.len(), parent, name) {
                    (0, _, "ListBucketResult") => {}
                    (0, _, other) => {
                        return Err(format!(
                            "listing page is a <{other}>, not a ListBucketResult"
                        ));
                    }
                    (1, _, "Contents") => content = Some(Content::default()),
                    (1, _, "CommonPrefixes") => prefix = Some(None),
                    _ => {}
                }
                field = match (open.len(), parent, name) {
                    (1, _, "IsTruncated") => Some(Field::IsTruncated),
                    (1, _, "NextContinuationToken") => Some(Field::NextToken),
                    (2, Some("Contents"), "Key") => Some(Field::Key),
                    (2, Some("Contents"), "Size") => Some(Field::Size),
                    (2, Some("Contents"), "StorageClass") => Some(Field::StorageClass),
                    (2, Some("Contents"), "LastModified") => Some(Field::LastModified),
                    (2, Some("CommonPrefixes"), "Prefix") => Some(Field::Prefix),
                    _ => None,
                };
                text.clear();
                open.push(name);
            }
            Token::Text { text: t } if field.is_some() => text.push_str(t.as_str()),
            // S3 never writes one; refused rather than read by rules of its own.
            Token::Cdata { .. } if field.is_some() => {
                return Err("listing page has a CDATA section in a field".to_string());
            }
            Token::ElementEnd { end, .. } => {
                let name = match end {
                    ElementEnd::Open => continue,
                    ElementEnd::Close(_, local) => {
                        let name = local.as_str();
                        if open.last() != Some(&name) {
                            return Err(format!("listing page closes <{name}> out of order"));
                        }
                        name
                    }
                    ElementEnd::Empty => open.last().copied().unwrap_or_default(),
                };
                open.pop();
                if let Some(f) = field.take() {
                    store(f, &text, &mut page, content.as_mut(), prefix.as_mut())?;
                }
                match (open.len(), name) {
                    (0, _) => closed_root = true,
                    (1, "Contents") => page.contents.extend(content.take()),
                    (1, "CommonPrefixes") => page.prefixes.extend(prefix.take()),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    if !closed_root {
        return Err("listing page was cut short (its root element is not closed)".to_string());
    }
    Ok(page)
}

/// Stores the text of field `f`.
fn store(
    f: Field,
    raw: &str,
    page: &mut ListPage,
    content: Option<&mut Content>,
    prefix: Option<&mut Option<String>>,
) -> Result<(), String> {
    let value = unescape(raw)?;
    match f {
        Field::IsTruncated => {
            page.truncated = Some(match value.trim() {
                "true" => true,
                "false" => false,
                other => return Err(format!("listing page has IsTruncated {other:?}")),
            });
        }
        Field::NextToken => page.next_token = Some(value.into_owned()),
        Field::Prefix => {
            if let Some(p) = prefix {
                *p = Some(value.into_owned());
            }
        }
        Field::Key | Field::Size | Field::StorageClass | Field::LastModified => {
            let Some(c) = content else { return Ok(()) };
            match f {
                Field::Key => c.key = Some(value.into_owned()),
                Field::Size => {
                    c.size = Some(
                        value
                            .trim()
                            .parse()
                            .map_err(|_| format!("listing page has Size {value:?}"))?,
                    );
                }
                Field::StorageClass => c.storage_class = Some(value.into_owned()),
                _ => {
                    let t = DateTime::from_str(value.trim(), DateTimeFormat::DateTime)
                        .map_err(|_| format!("listing page has LastModified {value:?}"))?;
                    c.last_modified = Some(t.to_string());
                }
            }
        }
    }
    Ok(())
}

/// Replaces XML's five named entities and character references (`&#13;`, `&#x1F;`: how S3
/// writes control characters in keys) with what they stand for.
pub fn unescape(raw: &str) -> Result<Cow<'_, str>, String> {
    if !raw.contains('&') {
        return Ok(Cow::Borrowed(raw));
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let end = rest[at..]
            .find(';')
            .ok_or_else(|| format!("listing page has an unterminated entity in {raw:?}"))?;
        let entity = &rest[at + 1..at + end];
        let c = match entity {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = if let Some(hex) = entity
                    .strip_prefix("#x")
                    .or_else(|| entity.strip_prefix("#X"))
                {
                    u32::from_str_radix(hex, 16).ok()
                } else {
                    entity.strip_prefix('#').and_then(|d| d.parse().ok())
                };
                code.and_then(char::from_u32)
                    .ok_or_else(|| format!("listing page has an unknown entity &{entity};"))?
            }
        };
        out.push(c);
        rest = &rest[at + end + 1..];
    }
    out.push_str(rest);
    Ok(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>a/</Prefix>
<KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><Delimiter>/</Delimiter><IsTruncated>true</IsTruncated>
<NextContinuationToken>1x&amp;y=</NextContinuationToken>
<Contents><Key>a/one &amp; two&#13;&#x1F600;</Key><LastModified>2026-11-30T10:00:00.000Z</LastModified>
<ETag>&quot;abc&quot;</ETag><Size>42</Size><Owner><ID>x</ID></Owner><StorageClass>GLACIER_IR</StorageClass></Contents>
<Contents><Key>a/two</Key><Size>0</Size></Contents>
<CommonPrefixes><Prefix>a/b/</Prefix></CommonPrefixes><CommonPrefixes></CommonPrefixes>
</ListBucketResult>"#;

    #[test]
    fn a_page_is_read_for_what_the_scan_uses() {
        let page = read(PAGE.as_bytes()).unwrap();
        assert_eq!(page.truncated, Some(true));
        assert_eq!(page.next_token.as_deref(), Some("1x&y="));
        assert_eq!(
            page.contents,
            vec![
                Content {
                    key: Some("a/one & two\r\u{1F600}".to_string()),
                    size: Some(42),
                    storage_class: Some("GLACIER_IR".to_string()),
                    last_modified: Some("2026-11-30T10:00:00Z".to_string()),
                },
                Content {
                    key: Some("a/two".to_string()),
                    size: Some(0),
                    ..Content::default()
                },
            ]
        );
        assert_eq!(page.prefixes, vec![Some("a/b/".to_string()), None]);
        // The last page of a listing, with empty and self-closed elements.
        let last = read(
            b"<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key/></Contents></ListBucketResult>",
        )
        .unwrap();
        assert_eq!(last.truncated, Some(false));
        assert_eq!(last.contents[0].key.as_deref(), Some(""));
        assert_eq!(read(b"<ListBucketResult/>").unwrap(), ListPage::default());
    }

    #[test]
    fn pages_that_are_not_whole_or_not_listings_are_refused() {
        let refused = |xml: &str| read(xml.as_bytes()).unwrap_err();
        // Cut anywhere before the root closes.
        for cut in [40, 300, 500, PAGE.len() - 2] {
            let e = refused(&PAGE[..cut]);
            assert!(
                e.contains("cut short") || e.contains("well-formed"),
                "{cut}: {e}"
            );
        }
        assert!(
            refused("<Error><Code>AccessDenied</Code></Error>").contains("not a ListBucketResult")
        );
        assert!(
            refused("<ListBucketResult><Contents></ListBucketResult>").contains("out of order")
        );
        let twice = refused("<ListBucketResult/><ListBucketResult/>");
        assert!(
            twice.contains("after its root") || twice.contains("well-formed"),
            "{twice}"
        );
        assert!(
            refused("<ListBucketResult><IsTruncated>yes</IsTruncated></ListBucketResult>")
                .contains("IsTruncated")
        );
        assert!(
            refused("<ListBucketResult><Contents><Size>4x</Size></Contents></ListBucketResult>")
                .contains("Size")
        );
        assert!(
            refused("<ListBucketResult><Contents><LastModified>today</LastModified></Contents></ListBucketResult>")
                .contains("LastModified")
        );
        assert!(
            refused("<ListBucketResult><Contents><Key>&nbsp;</Key></Contents></ListBucketResult>")
                .contains("entity")
        );
        assert!(
            refused("<ListBucketResult><Contents><Key>a&amp</Key></Contents></ListBucketResult>")
                .contains("entity")
        );
        assert!(
            refused(
                "<ListBucketResult><Contents><Key>&#xD800;</Key></Contents></ListBucketResult>"
            )
            .contains("entity")
        );
        assert!(read(&[0xff, 0xfe]).unwrap_err().contains("UTF-8"));
    }

    #[test]
    fn entities_are_replaced_and_plain_text_is_borrowed() {
        assert!(matches!(unescape("plain").unwrap(), Cow::Borrowed("plain")));
        assert_eq!(
            unescape("&lt;&gt;&amp;&quot;&apos;&#65;&#x42;").unwrap(),
            "<>&\"'AB"
        );
    }
}
