//! AWS SDK configuration and per-region clients.
//!
//! Buckets must be queried through a client for their own region (S3 redirects or refuses
//! otherwise) and KMS keys through a client for the key's region, so clients are built
//! lazily per region from one shared SDK configuration.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

use super::head::HeadClient;
use super::tls::{CaBundle, sdk_http_client};
use super::whole_xml::WholeXmlDocuments;

/// How to reach AWS (or an S3-compatible store): the AWS CLI's conventions.
#[derive(Debug, Clone, Default)]
pub struct ConnectionSettings {
    pub profile: Option<String>,
    pub region: Option<String>,
    /// Overrides the endpoint for every service (also read from `AWS_ENDPOINT_URL`).
    pub endpoint_url: Option<String>,
    /// Extra PEM certificates to trust (also read from `AWS_CA_BUNDLE`).
    pub ca_bundle: Option<PathBuf>,
    /// Attempts per request, including the first, for throttling and transient faults.
    pub max_attempts: u32,
    /// How long one attempt of any request may take.
    pub request_timeout: Duration,
}

/// How every request of a scan is sent and retried, whichever HTTP path sends it: the
/// SDK's clients (configured from it in [`Clients::new`]) and the direct HEAD client
/// ([`HeadClient`]) take the same timeouts, attempt budget and backoff curve, so both
/// behave the same under throttling and faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportPolicy {
    /// Attempts per request, the first included (`--max-attempts`).
    pub max_attempts: u32,
    /// How long one attempt may take (`--request-timeout`).
    pub attempt_timeout: Duration,
    pub connect_timeout: Duration,
    /// Backoff before retry n is uniform in `[0, min(cap, base * 2^(n-1))]` ("full
    /// jitter"), the SDK's standard curve.
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
}

impl TransportPolicy {
    pub fn new(max_attempts: u32, attempt_timeout: Duration) -> Self {
        TransportPolicy {
            max_attempts: max_attempts.max(1),
            attempt_timeout,
            connect_timeout: Duration::from_secs(5),
            backoff_base: Duration::from_millis(100),
            backoff_cap: Duration::from_secs(20),
        }
    }

    /// The SDK's retry configuration: adaptive mode (client-side rate limiting on
    /// throttling, which a scan fanning out thousands of requests needs) on this curve.
    pub fn retry_config(&self) -> RetryConfig {
        RetryConfig::adaptive()
            .with_max_attempts(self.max_attempts)
            .with_initial_backoff(self.backoff_base)
            .with_max_backoff(self.backoff_cap)
    }

    pub fn timeout_config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect_timeout)
            .operation_attempt_timeout(self.attempt_timeout)
            .build()
    }

    /// The upper bound of the backoff before retry `attempt` (1-based).
    pub fn backoff_ceiling(&self, attempt: u32) -> Duration {
        self.backoff_base
            .saturating_mul(1u32 << (attempt.max(1) - 1).min(16))
            .min(self.backoff_cap)
    }

    /// A full-jitter backoff before retry `attempt` (1-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        self.backoff_ceiling(attempt).mul_f64(fastrand::f64())
    }
}

pub struct Clients {
    sdk: SdkConfig,
    ca_bundle: Option<CaBundle>,
    transport: TransportPolicy,
    /// The endpoint S3 calls go to, if not AWS's own (see [`s3_endpoint`]).
    s3_endpoint: Option<String>,
    /// The region the scan starts from (ListBuckets, STS).
    pub home_region: String,
    s3: Mutex<HashMap<String, aws_sdk_s3::Client>>,
    kms: Mutex<HashMap<String, aws_sdk_kms::Client>>,
}

impl Clients {
    pub async fn new(settings: &ConnectionSettings) -> anyhow::Result<Self> {
        let transport = TransportPolicy::new(settings.max_attempts, settings.request_timeout);
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            // Names the auditor in CloudTrail and S3 access logs (user agent `app/s3audit`).
            .app_name(aws_config::AppName::new("s3audit").expect("valid app name"))
            .retry_config(transport.retry_config())
            .timeout_config(transport.timeout_config());
        if let Some(profile) = &settings.profile {
            loader = loader.profile_name(profile);
        }
        // Without any configured region, start from us-east-1 as the AWS CLI's S3 commands
        // do; buckets are then read in their own regions anyway.
        loader = match &settings.region {
            Some(region) => loader.region(Region::new(region.clone())),
            None => loader.region(
                aws_config::meta::region::RegionProviderChain::default_provider()
                    .or_else(Region::from_static("us-east-1")),
            ),
        };
        if let Some(url) = &settings.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let ca_bundle = settings
            .ca_bundle
            .as_deref()
            .map(CaBundle::read)
            .transpose()?;
        if let Some(bundle) = &ca_bundle {
            loader = loader.http_client(sdk_http_client(bundle)?);
        }
        let sdk = loader.load().await;
        let home_region = sdk
            .region()
            .map(|r| r.as_ref().to_string())
            .unwrap_or_else(|| "us-east-1".to_string());
        Ok(Clients {
            s3_endpoint: s3_endpoint(&sdk),
            sdk,
            ca_bundle,
            transport,
            home_region,
            s3: Mutex::default(),
            kms: Mutex::default(),
        })
    }

    /// The S3 endpoint override in force, if any (see [`s3_endpoint`]).
    pub fn endpoint_url(&self) -> Option<&str> {
        self.s3_endpoint.as_deref()
    }

    pub fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        let mut clients = self.s3.lock().expect("client cache lock");
        clients
            .entry(region.to_string())
            .or_insert_with(|| {
                let conf = aws_sdk_s3::config::Builder::from(&self.sdk)
                    .region(Region::new(region.to_string()))
                    .force_path_style(self.s3_endpoint.is_some())
                    .interceptor(WholeXmlDocuments)
                    .build();
                aws_sdk_s3::Client::from_conf(conf)
            })
            .clone()
    }

    /// The fast HEAD client of the object scan, with `pool` connections per host, sharing
    /// this configuration's credentials, endpoint, trust store and retry budget.
    pub fn head_client(&self, pool: usize) -> anyhow::Result<HeadClient> {
        HeadClient::new(
            &self.sdk,
            self.s3_endpoint.as_deref(),
            self.ca_bundle.as_ref(),
            pool,
            self.transport,
        )
    }

    pub fn kms(&self, region: &str) -> aws_sdk_kms::Client {
        let mut clients = self.kms.lock().expect("client cache lock");
        clients
            .entry(region.to_string())
            .or_insert_with(|| {
                let conf = aws_sdk_kms::config::Builder::from(&self.sdk)
                    .region(Region::new(region.to_string()))
                    .build();
                aws_sdk_kms::Client::from_conf(conf)
            })
            .clone()
    }

    pub fn sts(&self) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::new(&self.sdk)
    }

    /// AWS Organizations (`scan --organization`), through this configuration's credentials.
    pub fn organizations(&self) -> aws_sdk_organizations::Client {
        aws_sdk_organizations::Client::new(&self.sdk)
    }

    /// The Account Management API (ListRegions: which opt-in regions the credentials'
    /// account has enabled), through this configuration's credentials. Only asked about
    /// buckets of the commercial partition (the only one with opt-in regions), whose global
    /// endpoint is us-east-1's, so the client is pinned there whatever the start region.
    pub fn account(&self) -> aws_sdk_account::Client {
        let config = aws_sdk_account::config::Builder::from(&self.sdk)
            .region(aws_sdk_account::config::Region::new("us-east-1"))
            .build();
        aws_sdk_account::Client::from_conf(config)
    }

    /// S3 Tables in `region` (`--metadata-table` given a table bucket's ARN).
    pub fn s3tables(&self, region: &str) -> aws_sdk_s3tables::Client {
        let config = aws_sdk_s3tables::config::Builder::from(&self.sdk)
            .region(aws_sdk_s3tables::config::Region::new(region.to_string()))
            .build();
        aws_sdk_s3tables::Client::from_conf(config)
    }

    /// The SDK configuration, for credential providers built on it (an assumed role's).
    pub fn sdk(&self) -> &SdkConfig {
        &self.sdk
    }

    /// The same configuration (endpoint, trust store, transport, region) with other
    /// credentials: a role assumed in another account. Its clients are its own.
    pub fn with_credentials(
        &self,
        provider: aws_credential_types::provider::SharedCredentialsProvider,
    ) -> Clients {
        Clients {
            sdk: self.sdk.to_builder().credentials_provider(provider).build(),
            ca_bundle: self.ca_bundle.clone(),
            transport: self.transport,
            s3_endpoint: self.s3_endpoint.clone(),
            home_region: self.home_region.clone(),
            s3: Mutex::default(),
            kms: Mutex::default(),
        }
    }
}

/// The endpoint the SDK's S3 client uses, resolved as it resolves it: `--endpoint-url`,
/// else `AWS_ENDPOINT_URL_S3` or the profile's `services` entry for S3, else
/// `AWS_ENDPOINT_URL`. Buckets go in the path there: S3-compatible stores and local servers
/// have no virtual-host DNS.
fn s3_endpoint(sdk: &SdkConfig) -> Option<String> {
    let global = || sdk.endpoint_url().map(str::to_string);
    if sdk.get_origin("endpoint_url").is_client_config() {
        return global();
    }
    let key = aws_types::service_config::ServiceConfigKey::builder()
        .service_id("S3")
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build()
        .expect("all fields set");
    sdk.service_config()
        .and_then(|conf| conf.load_config(key))
        .or_else(global)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_http_paths_get_the_same_budget_timeouts_and_backoff() {
        let p = TransportPolicy::new(5, Duration::from_secs(7));
        let retry = p.retry_config();
        assert_eq!(retry.max_attempts(), 5);
        assert_eq!(retry.initial_backoff(), p.backoff_base);
        assert_eq!(retry.max_backoff(), p.backoff_cap);
        let timeouts = p.timeout_config();
        assert_eq!(
            timeouts.operation_attempt_timeout(),
            Some(p.attempt_timeout)
        );
        assert_eq!(timeouts.connect_timeout(), Some(p.connect_timeout));
        // The direct client's curve: full jitter under min(cap, base * 2^(n-1)).
        assert_eq!(p.backoff_ceiling(1), Duration::from_millis(100));
        assert_eq!(p.backoff_ceiling(4), Duration::from_millis(800));
        assert_eq!(p.backoff_ceiling(30), p.backoff_cap);
        for n in 1..20 {
            assert!(p.backoff(n) <= p.backoff_ceiling(n));
        }
        let spread: std::collections::HashSet<_> = (0..50).map(|_| p.backoff(3)).collect();
        assert!(spread.len() > 1, "backoff must be jittered");
        assert_eq!(TransportPolicy::new(0, p.attempt_timeout).max_attempts, 1);
    }
}
