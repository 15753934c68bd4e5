//! Turning SDK errors into facts (`Observed`) or into fatal, user-facing errors.
//!
//! Error codes are matched as strings because "not configured" answers (no encryption
//! configuration, no policy, ...) have no typed variant in the SDK.

use std::error::Error as StdError;

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

use crate::model::Observed;

/// Codes meaning "you may not read this".
const DENIED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "AllAccessDisabled",
    "UnauthorizedOperation",
    "Forbidden",
];

/// Codes meaning "your credentials are wrong", fatal for the whole scan.
const CREDENTIAL_CODES: &[&str] = &[
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "AuthFailure",
];

/// A failed call, reduced to what the rest of the program acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallFailure {
    /// The service answered with an error code.
    Service {
        code: Option<String>,
        message: String,
        status: u16,
    },
    /// No answer: connection refused, DNS, TLS, timeout.
    Unreachable(String),
    /// The request could not be built or signed (e.g. no credentials).
    Request(String),
}

impl CallFailure {
    pub fn from_sdk<E, R>(err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
        R: std::fmt::Debug + HasStatus + 'static,
    {
        Self::from_sdk_ref(&err)
    }

    /// [`CallFailure::from_sdk`] of an error held by another (a credential provider's).
    pub fn from_sdk_ref<E, R>(err: &SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
        R: std::fmt::Debug + HasStatus + 'static,
    {
        match err {
            SdkError::ServiceError(se) => CallFailure::Service {
                code: se.err().code().map(str::to_string),
                message: se.err().message().map(str::to_string).unwrap_or_default(),
                status: se.raw().status_code(),
            },
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
                let chain = chain(err);
                if chain.iter().any(|m| m.contains("no credentials")) {
                    return CallFailure::Request(NO_CREDENTIALS.to_string());
                }
                // The innermost causes say what happened ("Connection refused", a DNS
                // failure); the outer layers only repeat "dispatch failure".
                let tail = chain.len().saturating_sub(2);
                CallFailure::Unreachable(one_line(&chain[tail..].join(": ")))
            }
            SdkError::ConstructionFailure(_) => CallFailure::Request(describe(err)),
            // A response that could not be parsed still came from the service.
            _ => CallFailure::Service {
                code: None,
                message: describe(err),
                status: 0,
            },
        }
    }

    pub fn code(&self) -> Option<&str> {
        match self {
            CallFailure::Service { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    pub fn is_denied(&self) -> bool {
        match self {
            CallFailure::Service { code, status, .. } => {
                *status == 403 || code.as_deref().is_some_and(|c| DENIED_CODES.contains(&c))
            }
            _ => false,
        }
    }

    pub fn is_credentials(&self) -> bool {
        match self {
            CallFailure::Service { code, .. } => code
                .as_deref()
                .is_some_and(|c| CREDENTIAL_CODES.contains(&c)),
            CallFailure::Request(m) | CallFailure::Unreachable(m) => {
                let m = m.to_ascii_lowercase();
                m.contains("credential") || m.contains("no providers in chain")
            }
        }
    }

    /// The fact this failure of `call` establishes, given the codes that mean "not
    /// configured". The reason names the call, so a report says which permission or which
    /// answer was missing (`GetBucketVersioning: AccessDenied …`).
    pub fn into_observed<T>(self, call: &str, absent_codes: &[&str]) -> Observed<T> {
        if self.code().is_some_and(|c| absent_codes.contains(&c)) {
            return Observed::Absent;
        }
        let reason = format!("{call}: {self}");
        if self.is_denied() {
            Observed::Denied { reason }
        } else {
            Observed::Failed { reason }
        }
    }
}

impl std::fmt::Display for CallFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallFailure::Service {
                code,
                message,
                status,
            } => {
                let code = code.as_deref().unwrap_or("error");
                if message.is_empty() || message == code {
                    write!(f, "{code} (HTTP {status})")
                } else {
                    write!(f, "{code}: {message} (HTTP {status})")
                }
            }
            CallFailure::Unreachable(m) => write!(f, "no response: {m}"),
            CallFailure::Request(m) => write!(f, "request not sent: {m}"),
        }
    }
}

/// The HTTP status of a raw response; abstracts over the SDK's response type.
pub trait HasStatus {
    fn status_code(&self) -> u16;
}

impl HasStatus for aws_sdk_s3::config::http::HttpResponse {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

/// Reads one fact from `call`: `Present` on success, otherwise what the failure
/// establishes.
pub fn observe<T, E, R>(
    call: &str,
    result: Result<T, SdkError<E, R>>,
    absent_codes: &[&str],
) -> Observed<T>
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    R: std::fmt::Debug + HasStatus + 'static,
{
    match result {
        Ok(v) => Observed::Present(v),
        Err(e) => CallFailure::from_sdk(e).into_observed(call, absent_codes),
    }
}

/// Why a role could not be assumed, on one line: STS's answer as every other service's is
/// rendered (`AccessDenied: User … is not authorized to perform: sts:AssumeRole … (HTTP
/// 403)`), found under the credential provider's error, whose own chain ends in the SDK's
/// Debug dump of the error metadata; other causes (no answer, no credentials to call STS
/// with) as their chain says.
pub fn assume_role_failure(
    err: &aws_credential_types::provider::error::CredentialsError,
) -> String {
    type AssumeRoleError = SdkError<
        aws_sdk_sts::operation::assume_role::AssumeRoleError,
        aws_sdk_sts::config::http::HttpResponse,
    >;
    let mut source = err.source();
    while let Some(e) = source {
        if let Some(sts) = e.downcast_ref::<AssumeRoleError>() {
            return CallFailure::from_sdk_ref(sts).to_string();
        }
        source = e.source();
    }
    describe(err)
}

const NO_CREDENTIALS: &str = "no credentials found: pass --profile, set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, log in with `aws sso login`, or run with an instance or task role";

/// The messages of an error and its sources, outermost first, without repeats. Debug
/// dumps never reach the user.
fn chain(err: &(dyn StdError + 'static)) -> Vec<String> {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(err);
    while let Some(e) = current {
        let msg = e.to_string();
        if !msg.is_empty() && !parts.iter().any(|p| p.contains(&msg)) {
            parts.push(msg);
        }
        current = e.source();
    }
    parts
}

/// An error and its sources on one line, outermost first: `a: b: c`.
pub fn describe(err: &(dyn StdError + 'static)) -> String {
    one_line(&chain(err).join(": "))
}

/// Error chains from the SDK span lines; reports and terminals want one.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
