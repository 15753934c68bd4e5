use serde::{Deserialize, Serialize};

/// The outcome of trying to read one fact from AWS.
///
/// Rules must be able to tell "not configured" (a real answer) from "could not read" (no
/// answer): the first can pass or fail, the second is always an `error` finding. Keeping
/// the distinction in the model is what makes "unknown is never pass" enforceable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "status", content = "value", rename_all = "snake_case")]
pub enum Observed<T> {
    /// The service answered with the fact.
    Present(T),
    /// The service answered that the thing is not configured / does not exist.
    Absent,
    /// The caller is not allowed to read it (AccessDenied and friends).
    Denied { reason: String },
    /// Anything else: throttled out, 5xx, network, an unparseable answer.
    Failed { reason: String },
}

impl<T> Observed<T> {
    pub fn present(&self) -> Option<&T> {
        match self {
            Observed::Present(v) => Some(v),
            _ => None,
        }
    }

    /// Why the fact is unknown, if it is (`Denied` or `Failed`).
    pub fn unknown_reason(&self) -> Option<&str> {
        match self {
            Observed::Denied { reason } | Observed::Failed { reason } => Some(reason),
            _ => None,
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Observed<U> {
        match self {
            Observed::Present(v) => Observed::Present(f(v)),
            Observed::Absent => Observed::Absent,
            Observed::Denied { reason } => Observed::Denied { reason },
            Observed::Failed { reason } => Observed::Failed { reason },
        }
    }
}
