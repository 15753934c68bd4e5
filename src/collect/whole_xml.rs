//! Refuses S3 answers whose XML document was cut short.
//!
//! The SDK's XML deserializer is lenient: a body that stops in the middle of a listing
//! still yields the elements read so far, and since S3 writes `IsTruncated` and the next
//! continuation token before the entries, a cut page looks like a whole one with fewer
//! keys. A proxy or a dropped connection that ends a chunked body cleanly would then make
//! keys vanish from a "complete" listing. This interceptor checks every successful XML
//! answer for its closing root tag before it is used, so a cut document is an error that
//! names the call.

use aws_sdk_s3::config::interceptors::AfterDeserializationInterceptorContextRef;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;

#[derive(Debug)]
pub struct WholeXmlDocuments;

impl Intercept for WholeXmlDocuments {
    fn name(&self) -> &'static str {
        "WholeXmlDocuments"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = context.response();
        if !response.status().is_success() {
            return Ok(());
        }
        // Streaming bodies (object data) are not loaded here and not XML anyway.
        let Some(body) = response.body().bytes() else {
            return Ok(());
        };
        whole_xml(body).map_err(|why| {
            let call = cfg.load::<Metadata>().map_or("the call", Metadata::name);
            format!("{call} answered with {why}").into()
        })
    }
}

/// `Ok` when `body` is not XML (empty, or JSON such as a bucket policy) or is an XML
/// document whose root element is closed at its end.
pub fn whole_xml(body: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if !text.starts_with('<') {
        return Ok(());
    }
    let mut rest = text;
    // Skip the declaration, comments and processing instructions before the root.
    loop {
        if let Some(r) = rest.strip_prefix("<?") {
            rest = r
                .split_once("?>")
                .map(|(_, r)| r.trim_start())
                .unwrap_or("");
        } else if let Some(r) = rest.strip_prefix("<!--") {
            rest = r
                .split_once("-->")
                .map(|(_, r)| r.trim_start())
                .unwrap_or("");
        } else {
            break;
        }
    }
    let cut = |detail: String| {
        Err(format!(
            "an XML document cut short ({} bytes): {detail}",
            body.len()
        ))
    };
    let Some(tag) = rest.strip_prefix('<') else {
        return cut("no root element".to_string());
    };
    let name_len = tag
        .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .unwrap_or(tag.len());
    let name = &tag[..name_len];
    if name.is_empty() {
        return cut("no root element".to_string());
    }
    let Some(start_end) = tag.find('>') else {
        return cut(format!("the <{name}> tag never ends"));
    };
    if tag[..start_end].ends_with('/') {
        // `<LocationConstraint xmlns="…"/>`: the whole document.
        return if tag[start_end + 1..].trim().is_empty() {
            Ok(())
        } else {
            cut(format!("content after the empty <{name}/> root"))
        };
    }
    if text.ends_with(&format!("</{name}>")) {
        Ok(())
    } else {
        cut(format!("<{name}> is never closed"))
    }
}

#[cfg(test)]
mod tests {
    use super::whole_xml;

    #[test]
    fn whole_documents_and_non_xml_bodies_pass() {
        for ok in [
            "",
            "  ",
            r#"{"Version":"2012-10-17"}"#,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"x\"><Name>b</Name></ListBucketResult>\n",
            "<?xml version=\"1.0\"?><LocationConstraint xmlns=\"x\"/>",
            "<LocationConstraint>eu-west-1</LocationConstraint>",
            "<!-- c --><A/>",
        ] {
            assert_eq!(whole_xml(ok.as_bytes()), Ok(()), "{ok:?}");
        }
    }

    #[test]
    fn documents_cut_anywhere_are_refused() {
        let doc = "<?xml version=\"1.0\"?><ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>a</Key></Contents></ListBucketResult>";
        // Every proper prefix that gets past the declaration is cut short.
        let root = doc.find("<ListBucketResult").unwrap();
        for end in root + 1..doc.len() {
            let e = whole_xml(&doc.as_bytes()[..end]).unwrap_err();
            assert!(e.contains("cut short"), "{end}: {e}");
        }
        assert!(whole_xml(b"<A/><B/>").is_err());
        assert!(whole_xml(b"<A></B>").is_err());
    }
}
