//! Trust stores: which TLS certificates the scan accepts. The SDK's client and the HEAD
//! client ([`super::head`]) trust the same ones: the platform's roots plus the PEM
//! certificates of `--ca-bundle`, read and checked once.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use aws_sdk_s3::config::SharedHttpClient;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// The certificates of a `--ca-bundle` file.
#[derive(Clone)]
pub struct CaBundle {
    path: PathBuf,
    pem: Vec<u8>,
    certificates: Vec<CertificateDer<'static>>,
}

impl CaBundle {
    /// Reads `path`. A file that cannot be read, does not parse or holds no certificate
    /// is an error now, rather than a TLS failure on the first request.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let pem = std::fs::read(path)
            .with_context(|| format!("cannot read CA bundle {}", path.display()))?;
        let certificates = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("invalid CA bundle {}", path.display()))?;
        if certificates.is_empty() {
            anyhow::bail!(
                "CA bundle {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                path.display()
            );
        }
        Ok(CaBundle {
            path: path.to_path_buf(),
            pem,
            certificates,
        })
    }
}

/// The SDK's default HTTPS client (rustls with aws-lc, proxies from the environment)
/// trusting `bundle` as well.
pub fn sdk_http_client(bundle: &CaBundle) -> anyhow::Result<SharedHttpClient> {
    use aws_smithy_http_client::proxy::ProxyConfig;
    use aws_smithy_http_client::{Builder, ConnectorBuilder, tls};
    let trust = tls::TrustStore::default().with_pem_certificate(bundle.pem.clone());
    let ctx = tls::TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .with_context(|| format!("invalid CA bundle {}", bundle.path.display()))?;
    Ok(
        Builder::new().build_with_connector_fn(move |settings, components| {
            let mut connector = ConnectorBuilder::default()
                .tls_provider(tls::Provider::Rustls(
                    tls::rustls_provider::CryptoMode::AwsLc,
                ))
                .tls_context(ctx.clone());
            connector.set_connector_settings(settings.cloned());
            if let Some(components) = components {
                connector.set_sleep_impl(components.sleep_impl());
            }
            connector.set_proxy_config(Some(ProxyConfig::from_env()));
            connector.build()
        }),
    )
}

/// A rustls configuration with the SDK's trust store and crypto provider (aws-lc).
pub fn rustls_config(bundle: Option<&CaBundle>) -> anyhow::Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if let Some(bundle) = bundle {
        for cert in &bundle.certificates {
            roots.add(cert.clone()).with_context(|| {
                format!("invalid certificate in CA bundle {}", bundle.path.display())
            })?;
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS setup")?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
