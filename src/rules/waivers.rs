//! Waivers: failures an organisation has accepted for a while, with a reason and an owner
//! (`[[waiver]]` in the config file). Applied to the findings right after the rules, before
//! any filter, by [`apply`]; pure like the rules.
//!
//! A waiver never changes a verdict. A waived finding keeps `status: fail` and gains
//! [`Finding::waiver`], so every format still shows the failure, marked; only the exit code
//! (`--fail-on`) leaves it out. What a waiver may cover, and when:
//!
//! * **Only `fail`.** An `error` is a question s3audit could not answer (access denied, a
//!   listing cut short): nobody can have accepted a failure that was never seen, and a waiver
//!   written for a known failure must not hide that the facts went unread. Passes and n/a
//!   need nothing.
//! * **Until `expires`, inclusive, judged against the day the scan started** (the snapshot's
//!   `scan.started_at`, in UTC), never the wall clock: `s3audit evaluate` of a saved snapshot
//!   or an evidence bundle months later reaches the same verdicts as the run that made it.
//!   An expired waiver waives nothing and is reported, with how many failures it would have
//!   covered.
//! * **A waiver that covers no failing finding is reported** (`unmatched`): the failure was
//!   fixed, or the patterns have a typo. Either way someone should look.
//!
//! A finding covered by several active waivers records the first in file order; each of them
//! counts it as matched, so none reads as unmatched while another happens to come first.

use serde::{Deserialize, Serialize};
use time::Date;

use crate::model::{AppliedWaiver, Estate, Finding, Status};

/// One `[[waiver]]` of the config file, validated (see `config.rs`): every field non-empty,
/// the rule pattern matching some rule of the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiver {
    /// A rule id or glob (`POL-00?`), matched as `--rule` is (ignoring case).
    pub rule: String,
    /// A glob (`*`, `?`) on the bucket name or on the resource ARN: either may match.
    pub resource: String,
    pub reason: String,
    pub owner: String,
    /// The last day the waiver applies (inclusive).
    pub expires: Date,
}

impl Waiver {
    /// Whether this waiver's patterns name `f`, whatever its status.
    pub fn names(&self, f: &Finding) -> bool {
        if !crate::report::rule_matches(&self.rule, f.rule.as_str()) {
            return false;
        }
        // Case-sensitive: bucket names and ARNs are.
        let resource = s3audit_policy::glob::Glob::new(&self.resource);
        resource.is_match(&f.resource) || f.bucket.as_deref().is_some_and(|b| resource.is_match(b))
    }

    /// Whether it still applies on `day`: through its `expires` day.
    pub fn active_on(&self, day: Date) -> bool {
        day <= self.expires
    }

    /// `POL-001 on legacy-*`, for messages.
    pub fn describe(&self) -> String {
        format!("{} on {}", self.rule, self.resource)
    }
}

/// `2027-03-31`.
pub fn date_text(date: Date) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    date.format(&format).unwrap_or_else(|_| date.to_string())
}

/// A date as the config file and the report write it, `YYYY-MM-DD` with a four-digit year
/// (as TOML's dates have); `None` otherwise, including days that do not exist
/// (`2027-02-30`).
pub fn parse_date(text: &str) -> Option<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    (text.len() == 10 && text.as_bytes()[..4].iter().all(u8::is_ascii_digit))
        .then(|| Date::parse(text, &format).ok())
        .flatten()
}

/// The day waivers are judged against: the UTC date the scan started.
pub fn scan_date(estate: &Estate) -> Date {
    estate
        .scan
        .started_at
        .to_offset(time::UtcOffset::UTC)
        .date()
}

/// Where a waiver stands after [`apply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WaiverState {
    /// In force on the scan date and covering at least one failing finding.
    Active,
    /// Past its `expires` day on the scan date: it waives nothing.
    Expired,
    /// In force, but no failing finding matches its rule and resource patterns.
    Unmatched,
}

impl WaiverState {
    pub fn as_str(self) -> &'static str {
        match self {
            WaiverState::Active => "active",
            WaiverState::Expired => "expired",
            WaiverState::Unmatched => "unmatched",
        }
    }
}

/// One waiver of the config file and what it did in this evaluation: the report's `waivers`
/// section. Counted over every finding the rules produced, before `--status`, `--rule` and
/// the other filters, so a filter cannot make a waiver look unmatched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WaiverSummary {
    /// Its place in the config file, counted from 1 (findings name it by this number).
    pub index: usize,
    /// The rule id or glob, as written.
    pub rule: String,
    /// The resource glob (bucket name or resource ARN), as written.
    pub resource: String,
    /// Why the failure is accepted.
    pub reason: String,
    /// Who accepted it.
    pub owner: String,
    /// The last day it applies (YYYY-MM-DD, inclusive).
    pub expires: String,
    /// `active`, `expired` (past `expires` on the day the scan started) or `unmatched`
    /// (in force, but no failing finding matches it).
    pub state: WaiverState,
    /// Failing findings its patterns match: waived when active, no longer waived when
    /// expired (they count toward `--fail-on` again), 0 when unmatched.
    pub matched: usize,
    /// Error findings its patterns match. Never waived: an error is a fact s3audit could not
    /// read, not a failure anyone accepted. Absent when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub errors_not_waived: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl WaiverSummary {
    /// The line a run prints on stderr for an expired or unmatched waiver (`None` for an
    /// active one), without the `s3audit: ` prefix. The config file's text is the user's
    /// own, but is escaped for the terminal by the caller like everything else.
    pub fn warning(&self) -> Option<String> {
        let which = format!(
            "waiver #{} ({} on {}, owner {})",
            self.index, self.rule, self.resource, self.owner
        );
        let errors = if self.errors_not_waived > 0 {
            format!(
                "; {} error finding{} it matches {} not waived (an error is unknown, not an accepted failure)",
                self.errors_not_waived,
                if self.errors_not_waived == 1 { "" } else { "s" },
                if self.errors_not_waived == 1 {
                    "is"
                } else {
                    "are"
                },
            )
        } else {
            String::new()
        };
        match self.state {
            WaiverState::Active => None,
            WaiverState::Expired => Some(format!(
                "warning: {which} expired on {}: it waives nothing; {} failing finding{} it matches count{} again{errors}",
                self.expires,
                self.matched,
                if self.matched == 1 { "" } else { "s" },
                if self.matched == 1 { "s" } else { "" },
            )),
            WaiverState::Unmatched => Some(format!(
                "warning: {which} matched no failing finding: remove it if the failure is fixed, or check its patterns{errors}"
            )),
        }
    }
}

/// Marks each failing finding an active waiver covers (the first such waiver in file
/// order) and says what each waiver did. `as_of` is the day the scan started
/// ([`scan_date`]). Findings of any other status are left alone.
pub fn apply(findings: &mut [Finding], waivers: &[Waiver], as_of: Date) -> Vec<WaiverSummary> {
    let mut matched = vec![0usize; waivers.len()];
    let mut errors = vec![0usize; waivers.len()];
    for f in findings.iter_mut() {
        if !matches!(f.status, Status::Fail | Status::Error) {
            continue;
        }
        for (i, w) in waivers.iter().enumerate() {
            if !w.names(f) {
                continue;
            }
            if f.status == Status::Error {
                errors[i] += 1;
                continue;
            }
            matched[i] += 1;
            if f.waiver.is_none() && w.active_on(as_of) {
                f.waiver = Some(AppliedWaiver {
                    index: i + 1,
                    rule: w.rule.clone(),
                    resource: w.resource.clone(),
                    reason: w.reason.clone(),
                    owner: w.owner.clone(),
                    expires: date_text(w.expires),
                });
            }
        }
    }
    waivers
        .iter()
        .enumerate()
        .map(|(i, w)| WaiverSummary {
            index: i + 1,
            rule: w.rule.clone(),
            resource: w.resource.clone(),
            reason: w.reason.clone(),
            owner: w.owner.clone(),
            expires: date_text(w.expires),
            state: if !w.active_on(as_of) {
                WaiverState::Expired
            } else if matched[i] == 0 {
                WaiverState::Unmatched
            } else {
                WaiverState::Active
            },
            matched: matched[i],
            errors_not_waived: errors[i],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn finding(rule: &str, bucket: &str, status: Status) -> Finding {
        Finding::on_bucket(rule, bucket, status)
    }

    fn waiver(rule: &str, resource: &str, expires: Date) -> Waiver {
        Waiver {
            rule: rule.parse().unwrap(),
            resource: resource.into(),
            reason: "accepted".into(),
            owner: "team@example.com".into(),
            expires,
        }
    }

    const DAY: Date = date!(2027 - 03 - 31);

    #[test]
    fn a_waiver_marks_matching_fails_only_and_keeps_their_status() {
        let mut findings = vec![
            finding("POL-001", "legacy-a", Status::Fail),
            finding("POL-001", "legacy-b", Status::Pass),
            finding("POL-001", "current", Status::Fail),
            finding("ENC-001", "legacy-a", Status::Fail),
        ];
        let summary = apply(&mut findings, &[waiver("POL-001", "legacy-*", DAY)], DAY);
        let w = findings[0].waiver.as_ref().expect("waived");
        assert_eq!((w.index, w.expires.as_str()), (1, "2027-03-31"));
        assert_eq!(findings[0].status, Status::Fail, "the verdict stays");
        assert!(findings[1].waiver.is_none(), "a pass needs no waiver");
        assert!(findings[2].waiver.is_none(), "another bucket");
        assert!(findings[3].waiver.is_none(), "another rule");
        assert_eq!(summary[0].state, WaiverState::Active);
        assert_eq!(summary[0].matched, 1);
    }

    /// An error is unknown: a waiver for a known failure must not hide that facts went
    /// unread, even when its patterns name the finding.
    #[test]
    fn error_findings_are_never_waived_but_counted() {
        let mut findings = vec![finding("KMS-002", "b", Status::Error)];
        let summary = apply(&mut findings, &[waiver("*", "*", DAY)], DAY);
        assert!(findings[0].waiver.is_none());
        assert_eq!(findings[0].status, Status::Error);
        assert_eq!(summary[0].state, WaiverState::Unmatched);
        assert_eq!(summary[0].errors_not_waived, 1);
        let warning = summary[0].warning().unwrap();
        assert!(
            warning.contains("1 error finding it matches is not waived"),
            "{warning}"
        );
    }

    #[test]
    fn rule_globs_ignore_case_and_resource_globs_match_the_bucket_or_the_arn() {
        let mut findings = vec![
            finding("POL-001", "legacy-uploads", Status::Fail),
            finding("POL-003", "legacy-uploads", Status::Fail),
            finding("ENC-001", "legacy-uploads", Status::Fail),
            finding("POL-001", "Legacy-caps", Status::Fail),
            finding("POL-001", "other", Status::Fail),
        ];
        let waivers = [
            waiver("pol-00?", "legacy-*", DAY),
            waiver("ENC-*", "arn:aws:s3:::legacy-*", DAY),
        ];
        let summary = apply(&mut findings, &waivers, DAY);
        let by: Vec<Option<usize>> = findings
            .iter()
            .map(|f| f.waiver.as_ref().map(|w| w.index))
            .collect();
        // Bucket names and ARNs are case-sensitive; rule ids are not.
        assert_eq!(by, [Some(1), Some(1), Some(2), None, None]);
        assert_eq!((summary[0].matched, summary[1].matched), (2, 1));
        // A key finding has no bucket: its ARN alone is matched.
        let mut key = finding("KMS-001", "x", Status::Fail);
        key.bucket = None;
        key.resource = "arn:aws:kms:us-east-1:111122223333:key/k".into();
        let mut findings = vec![key];
        apply(
            &mut findings,
            &[waiver("KMS-001", "arn:aws:kms:*", DAY)],
            DAY,
        );
        assert!(findings[0].waiver.is_some());
    }

    #[test]
    fn a_waiver_applies_through_its_expiry_day_and_not_after() {
        let w = [waiver("POL-001", "b", DAY)];
        let mut on_the_day = vec![finding("POL-001", "b", Status::Fail)];
        assert_eq!(
            apply(&mut on_the_day, &w, DAY)[0].state,
            WaiverState::Active
        );
        assert!(on_the_day[0].waiver.is_some());

        let mut day_after = vec![finding("POL-001", "b", Status::Fail)];
        let summary = apply(&mut day_after, &w, DAY.next_day().unwrap());
        assert!(day_after[0].waiver.is_none(), "expired: the failure counts");
        assert_eq!(summary[0].state, WaiverState::Expired);
        assert_eq!(summary[0].matched, 1, "what it would have covered");
        let warning = summary[0].warning().unwrap();
        assert!(
            warning.contains("expired on 2027-03-31") && warning.contains("1 failing finding"),
            "{warning}"
        );
    }

    #[test]
    fn an_unmatched_waiver_is_reported_and_the_first_active_waiver_wins() {
        let mut findings = vec![finding("POL-001", "b", Status::Fail)];
        let waivers = [
            waiver("POL-001", "b", date!(2020 - 01 - 01)),
            waiver("POL-*", "*", DAY),
            waiver("POL-001", "b", DAY),
            waiver("ENC-001", "b", DAY),
        ];
        let summary = apply(&mut findings, &waivers, DAY);
        assert_eq!(findings[0].waiver.as_ref().unwrap().index, 2);
        let states: Vec<WaiverState> = summary.iter().map(|s| s.state).collect();
        assert_eq!(
            states,
            [
                WaiverState::Expired,
                WaiverState::Active,
                // Covers the finding too, though #2 came first: not unmatched.
                WaiverState::Active,
                WaiverState::Unmatched,
            ]
        );
        assert!(summary[1].warning().is_none());
        assert!(summary[3].warning().unwrap().contains(
            "waiver #4 (ENC-001 on b, owner team@example.com) matched no failing finding"
        ));
    }

    #[test]
    fn the_scan_date_is_the_utc_day_the_scan_started() {
        let json = serde_json::json!({
            "snapshot_version": crate::model::SNAPSHOT_VERSION,
            "scan": {
                "tool_version": "t", "region": "us-east-1",
                // 23:30 at UTC-2 is already the next day in UTC.
                "started_at": "2027-03-31T23:30:00-02:00",
                "finished_at": "2027-04-01T02:00:00Z",
                "account": null, "principal": null, "endpoint": null,
            },
            "buckets": [], "keys": {},
        });
        let estate: Estate = serde_json::from_value(json).unwrap();
        assert_eq!(scan_date(&estate), date!(2027 - 04 - 01));
    }

    #[test]
    fn dates_parse_strictly() {
        assert_eq!(parse_date("2027-03-31"), Some(DAY));
        assert_eq!(date_text(DAY), "2027-03-31");
        for bad in [
            "2027-02-30",
            "2027-3-31",
            "31/03/2027",
            "2027-03-31T00:00:00Z",
            "",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }
}
