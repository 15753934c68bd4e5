//! Credentials for requests the object scan signs itself ([`super::head`]).

use std::sync::RwLock;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_smithy_runtime_api::client::identity::Identity;

use super::errors::{CallFailure, describe};

/// Credentials this close to expiry are refreshed before use, so a request is never
/// signed with credentials that expire in flight.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(60);

/// Credentials from the SDK's provider chain, fetched once and refreshed shortly before
/// they expire (role sessions, SSO, instance profiles), never per request.
pub struct CredentialCache {
    provider: SharedCredentialsProvider,
    current: RwLock<Option<(Identity, Option<SystemTime>)>>,
    refresh: tokio::sync::Mutex<()>,
}

impl CredentialCache {
    pub fn new(provider: SharedCredentialsProvider) -> Self {
        CredentialCache {
            provider,
            current: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    pub async fn get(&self) -> Result<Identity, CallFailure> {
        if let Some(identity) = self.fresh() {
            return Ok(identity);
        }
        let _refreshing = self.refresh.lock().await;
        if let Some(identity) = self.fresh() {
            return Ok(identity);
        }
        let credentials = self
            .provider
            .provide_credentials()
            .await
            .map_err(|e| CallFailure::Request(format!("no credentials: {}", describe(&e))))?;
        let expiry = credentials.expiry();
        let identity: Identity = credentials.into();
        *self.current.write().expect("credential cache lock") = Some((identity.clone(), expiry));
        Ok(identity)
    }

    fn fresh(&self) -> Option<Identity> {
        let current = self.current.read().expect("credential cache lock");
        let (identity, expiry) = current.as_ref()?;
        match expiry {
            Some(at) if SystemTime::now() + REFRESH_BEFORE_EXPIRY >= *at => None,
            _ => Some(identity.clone()),
        }
    }
}
