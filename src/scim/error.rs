//! The errors the SCIM client returns, typed so that `apply` can decide what to do (adopt on
//! 409, skip dependents, stop on 401) and worded so that the message a user finally sees says
//! what went wrong and what to check. A server's `detail` is always shown; a token never is (the
//! client redacts every text it puts in an error with `auth::redact`).

use thiserror::Error;

use crate::scim::auth::AuthKind;

/// Why a list could not be proven complete (docs/contract.md#read-only-planning: a plan never diffs against partial state).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PagingError {
    #[error("the server sent the same {collection} again (id {id}) on a later page; refusing to loop or to guess")]
    RepeatedItem { collection: String, id: String },
    #[error(
        "the server sent the cursor {cursor:?} twice while listing {collection}; refusing to loop"
    )]
    RepeatedCursor { collection: String, cursor: String },
    #[error("the server did not say how many {collection} exist (no totalResults), so the list cannot be proven complete")]
    MissingTotal { collection: String },
    #[error("the server claimed {claimed} {collection} but sent {received}")]
    CountMismatch {
        collection: String,
        claimed: u64,
        received: u64,
    },
    #[error("the number of {collection} changed while listing ({before} then {after}); run again")]
    TotalChanged {
        collection: String,
        before: u64,
        after: u64,
    },
    #[error("a {collection} resource without an id was listed")]
    MissingId { collection: String },
    #[error("the server answered the first cursor request with an index-paged list ({total} {collection} in total, {received} sent): it does not support cursor paging, so the list would be truncated")]
    NoCursorSupport {
        collection: String,
        total: u64,
        received: u64,
    },
    #[error("listing {collection} took more than {pages} pages, the target's limit (`read.max_pages`); refusing to go on. If the directory really is that large, raise `read.max_pages`")]
    TooManyPages { collection: String, pages: u64 },
    #[error("{}", too_many_objects(.collection, *.limit, *.claimed))]
    TooManyObjects {
        collection: String,
        limit: u64,
        /// The server's `totalResults`, when it claimed more than the limit up front.
        claimed: Option<u64>,
    },
    #[error("the server sent {pages} empty pages of {collection} in a row, each with a new nextCursor: the cursor chain does not end; refusing to go on")]
    EmptyCursorPages { collection: String, pages: u64 },
}

fn too_many_objects(collection: &str, limit: u64, claimed: Option<u64>) -> String {
    let what = match claimed {
        Some(c) => format!("the server claims {c} {collection} (totalResults)"),
        None => format!("the server sent more than {limit} {collection}"),
    };
    format!(
        "{what}, more than the target's limit of {limit} per list (`read.max_objects`); refusing \
         to read on. If the directory really is that large, raise `read.max_objects`"
    )
}

/// The kind of target and credentials a request went to: a 401 on AWS has causes (a wrong tenant
/// URL answers 401 too) that a generic server's 401 does not, and basic credentials are not a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetKind {
    pub aws: bool,
    pub auth: AuthKind,
}

/// An error of a SCIM request.
#[derive(Debug, Error)]
pub enum ScimClientError {
    /// The server answered with an error status.
    #[error("{}", http_message(*.status, .method, .url, .scim_type.as_deref(), .detail.as_deref(), *.attempts, *.target))]
    Http {
        method: String,
        /// The request URL (never holds a secret: credentials travel in headers).
        url: String,
        status: u16,
        scim_type: Option<String>,
        detail: Option<String>,
        /// How many times the request was sent.
        attempts: u32,
        /// What the refused request was sent to and with, so a 401 hint fits the target.
        target: TargetKind,
    },
    /// The server kept answering 429 for the whole throttle budget.
    #[error("{host} kept answering {method} {url} with 429 Too Many Requests for {seconds:.0} s (the throttle budget, `rate.throttle_budget_seconds`), after {attempts} attempt(s); roster was sending at {}", rate_text(*.rate))]
    Throttled {
        method: String,
        url: String,
        host: String,
        seconds: f64,
        /// The budget's rate when roster gave up (`None` = unlimited).
        rate: Option<f64>,
        attempts: u32,
    },
    /// The server asked (`Retry-After`) for a wait longer than what is left of the throttle
    /// budget: failing at once beats staying silent for minutes and failing then.
    #[error("{host} answered {method} {url} with {status} and Retry-After: {retry_after:.0} s, longer than the {left:.0} s left of the throttle budget ({budget:.0} s, `rate.throttle_budget_seconds`); not waiting, after {attempts} attempt(s)")]
    RetryAfterTooLong {
        method: String,
        url: String,
        host: String,
        status: u16,
        /// What the server asked for, in seconds.
        retry_after: f64,
        /// Seconds of the throttle budget left for this request.
        left: f64,
        budget: f64,
        attempts: u32,
    },
    /// The server could not be reached, or the connection broke.
    #[error("cannot reach {host} ({method} {url}) after {attempts} attempt(s): {reason}")]
    Network {
        method: String,
        url: String,
        host: String,
        reason: String,
        attempts: u32,
    },
    /// The server did not answer in time.
    #[error("{host} did not answer {method} {url} in time after {attempts} attempt(s)")]
    Timeout {
        method: String,
        url: String,
        host: String,
        attempts: u32,
    },
    /// The answer was not the JSON the protocol promises.
    #[error("{host} sent an answer to {method} {url} that is not valid SCIM: {reason}")]
    Decode {
        method: String,
        url: String,
        host: String,
        reason: String,
    },
    /// The answer was larger than the target's cap per answer (`read.max_response_mib`): by its
    /// `Content-Length`, refused before reading, or while it streamed in, refused as soon as
    /// it passed the cap. Never retried: the same request would be answered the same way.
    #[error("{}", too_large_message(.host, .method, .url, *.limit, *.declared))]
    ResponseTooLarge {
        method: String,
        url: String,
        host: String,
        /// The cap, in bytes.
        limit: u64,
        /// The `Content-Length` the server declared, when it declared one over the cap.
        declared: Option<u64>,
    },
    /// A list could not be proven complete.
    #[error("cannot read the complete list from {url}: {source}")]
    Paging {
        url: String,
        #[source]
        source: PagingError,
    },
    /// A read-only client was asked to send something other than GET. Nothing was sent.
    #[error(
        "refused to send {method} {url}: this command is read-only and sends GET requests only"
    )]
    ReadOnly { method: String, url: String },
    /// Plain HTTP to a host that is not loopback, without `--insecure-http`.
    #[error("refusing plain http:// to {host}: tokens would travel unencrypted; use https:// or pass --insecure-http")]
    InsecureUrl { host: String },
    /// The client could not be set up (bad URL, unreadable CA certificate, ...).
    #[error("{0}")]
    Setup(String),
    /// Credentials could not be read.
    #[error(transparent)]
    Auth(#[from] crate::scim::auth::AuthError),
    /// A filter the dialect cannot express.
    #[error(transparent)]
    Filter(#[from] crate::scim::filter::FilterError),
    /// A request the dialect forbids (checked before sending).
    #[error("refused to send a request {dialect} does not accept: {reason}")]
    Dialect { dialect: String, reason: String },
}

impl ScimClientError {
    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ScimClientError::Http { status, .. } => Some(*status),
            ScimClientError::Throttled { .. } => Some(429),
            ScimClientError::RetryAfterTooLong { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The SCIM `scimType` (`uniqueness`, `invalidValue`, ...), when the server sent one.
    pub fn scim_type(&self) -> Option<&str> {
        match self {
            ScimClientError::Http { scim_type, .. } => scim_type.as_deref(),
            _ => None,
        }
    }

    /// The server's `detail`, when it sent one.
    pub fn detail(&self) -> Option<&str> {
        match self {
            ScimClientError::Http { detail, .. } => detail.as_deref(),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    pub fn is_conflict(&self) -> bool {
        self.status() == Some(409)
    }

    pub fn is_unauthorized(&self) -> bool {
        matches!(self.status(), Some(401 | 403))
    }

    /// True when a write may or may not have taken effect (a 5xx, a timeout or a broken
    /// connection after the request was sent). `apply` looks the object up before retrying a
    /// create in that case, so that a retry never duplicates it (docs/contract.md#concurrency-and-retries).
    pub fn outcome_unknown(&self) -> bool {
        match self {
            ScimClientError::Http { status, .. }
            | ScimClientError::RetryAfterTooLong { status, .. } => *status >= 500,
            ScimClientError::Timeout { .. } | ScimClientError::Network { .. } => true,
            _ => false,
        }
    }

    /// The same error, counting `earlier` requests sent before this one for the same goal (a
    /// create sent again after an unknown outcome), so that the message says how many went out.
    pub fn after_earlier_sends(mut self, earlier: u32) -> Self {
        match &mut self {
            ScimClientError::Http { attempts, .. }
            | ScimClientError::Throttled { attempts, .. }
            | ScimClientError::RetryAfterTooLong { attempts, .. }
            | ScimClientError::Network { attempts, .. }
            | ScimClientError::Timeout { attempts, .. } => {
                *attempts = attempts.saturating_add(earlier);
            }
            _ => {}
        }
        self
    }

    /// How many requests went out for this error (0 when none was sent).
    pub fn attempts(&self) -> u32 {
        match self {
            ScimClientError::Http { attempts, .. }
            | ScimClientError::Throttled { attempts, .. }
            | ScimClientError::RetryAfterTooLong { attempts, .. }
            | ScimClientError::Network { attempts, .. }
            | ScimClientError::Timeout { attempts, .. } => *attempts,
            _ => 0,
        }
    }

    /// The attribute a 409 names, if the server's answer tells it.
    pub fn conflicting_attribute(&self) -> Option<&'static str> {
        match self {
            ScimClientError::Http {
                status: 409,
                detail,
                ..
            } => conflicting_attribute(detail.as_deref()),
            _ => None,
        }
    }
}

const KNOWN_UNIQUE: &[(&str, &str)] = &[
    ("username", "userName"),
    ("user_name", "userName"),
    ("externalid", "externalId"),
    ("external_id", "externalId"),
    ("displayname", "displayName"),
    ("display_name", "displayName"),
    ("email", "emails"),
];

fn conflicting_attribute(detail: Option<&str>) -> Option<&'static str> {
    let d = detail?.to_ascii_lowercase();
    KNOWN_UNIQUE
        .iter()
        .find(|(needle, _)| d.contains(needle))
        .map(|(_, attr)| *attr)
}

fn mib(bytes: u64) -> String {
    let m = bytes as f64 / f64::from(1u32 << 20);
    if m.fract() == 0.0 {
        format!("{m:.0} MiB")
    } else {
        format!("{m:.1} MiB")
    }
}

fn too_large_message(
    host: &str,
    method: &str,
    url: &str,
    limit: u64,
    declared: Option<u64>,
) -> String {
    let how = match declared {
        Some(d) => format!(
            "declares an answer of {} (Content-Length {d}); refused before reading it",
            mib(d)
        ),
        None => format!(
            "sent more than {} in one answer; reading stopped there",
            mib(limit)
        ),
    };
    format!(
        "{host} {how} ({method} {url}): the target's limit is {} per answer \
         (`read.max_response_mib`). A list page that large is a server fault, not a directory; \
         if the server's answers really are that large, raise `read.max_response_mib`",
        mib(limit)
    )
}

fn rate_text(rate: Option<f64>) -> String {
    match rate {
        Some(r) => format!("{r:.1} requests/s"),
        None => "no limit".to_string(),
    }
}

fn unauthorized_hint(target: TargetKind) -> String {
    if target.aws {
        return "401 Unauthorized: the token was refused. It may be expired or revoked, or the \
                tenant URL or region may be wrong (AWS answers 401 for a wrong tenant too)"
            .to_string();
    }
    match target.auth {
        AuthKind::None => "401 Unauthorized: the server wants credentials and this target sends \
                           none; set the target's `auth`"
            .to_string(),
        AuthKind::Bearer => "401 Unauthorized: the bearer token was refused. It may be expired \
                             or revoked, or be a token for another server or base URL"
            .to_string(),
        AuthKind::Basic => "401 Unauthorized: the username or password was refused, or the \
                            server does not take basic credentials"
            .to_string(),
        AuthKind::Header => "401 Unauthorized: the value of the target's auth header was \
                             refused. It may be expired or revoked, or the server may expect \
                             another header"
            .to_string(),
    }
}

fn http_message(
    status: u16,
    method: &str,
    url: &str,
    scim_type: Option<&str>,
    detail: Option<&str>,
    attempts: u32,
    target: TargetKind,
) -> String {
    let what = match status {
        401 => unauthorized_hint(target),
        403 => "403 Forbidden: the token is valid but may not do this".to_string(),
        404 => "404 Not Found: the object does not exist (deleted meanwhile?) or the base URL is \
                wrong"
            .to_string(),
        409 => match conflicting_attribute(detail) {
            Some(attr) => format!("409 Conflict: another object already has this {attr}"),
            None => "409 Conflict: the object clashes with an existing one".to_string(),
        },
        412 => "412 Precondition Failed: the object changed since it was read".to_string(),
        429 => format!("429 Too Many Requests: still throttled after {attempts} attempt(s)"),
        400 => "400 Bad Request: the server refused the request".to_string(),
        501 => "501 Not Implemented: the server does not support this request (not retried)"
            .to_string(),
        s if s >= 500 => format!("{s} server error, still failing after {attempts} attempt(s)"),
        s => format!("HTTP {s}"),
    };
    let mut msg = format!("{method} {url}: {what}");
    if let Some(t) = scim_type.filter(|t| !t.is_empty()) {
        msg.push_str(&format!(" [scimType {t}]"));
    }
    match detail.filter(|d| !d.trim().is_empty()) {
        Some(d) => msg.push_str(&format!("; server says: {}", d.trim())),
        None => msg.push_str("; the server sent no detail"),
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16, scim_type: Option<&str>, detail: Option<&str>) -> ScimClientError {
        ScimClientError::Http {
            method: "POST".into(),
            url: "https://scim.example/Users".into(),
            status,
            scim_type: scim_type.map(Into::into),
            detail: detail.map(Into::into),
            attempts: 1,
            target: TargetKind {
                aws: true,
                auth: AuthKind::Bearer,
            },
        }
    }

    #[test]
    fn unauthorized_on_a_generic_target_says_nothing_of_aws_tenants() {
        let mut e = http(401, None, None);
        let ScimClientError::Http { target, .. } = &mut e else {
            unreachable!("http() builds an Http error")
        };
        target.aws = false;
        let bearer = e.to_string();
        assert!(bearer.contains("bearer token"), "{bearer}");
        assert!(
            !bearer.contains("AWS") && !bearer.contains("tenant"),
            "{bearer}"
        );
        if let ScimClientError::Http { target, .. } = &mut e {
            target.auth = AuthKind::Basic;
        }
        let basic = e.to_string();
        assert!(basic.contains("username or password"), "{basic}");
        assert!(!basic.contains("token"), "{basic}");
        if let ScimClientError::Http { target, .. } = &mut e {
            target.auth = AuthKind::Header;
        }
        assert!(e.to_string().contains("auth header was refused"), "{e}");
    }

    #[test]
    fn unauthorized_mentions_expiry_and_tenant() {
        let m = http(401, None, Some("Bad token")).to_string();
        assert!(m.contains("expired or revoked"), "{m}");
        assert!(m.contains("tenant URL"), "{m}");
        assert!(m.contains("Bad token"), "{m}");
    }

    #[test]
    fn conflict_names_attribute_and_detail() {
        let e = http(409, Some("uniqueness"), Some("userName already exists"));
        assert_eq!(e.conflicting_attribute(), Some("userName"));
        let m = e.to_string();
        assert!(m.contains("this userName"), "{m}");
        assert!(m.contains("userName already exists"), "{m}");
        assert!(m.contains("uniqueness"), "{m}");
        let aws = http(
            409,
            None,
            Some("Refused to create a new, duplicate resource."),
        );
        assert_eq!(aws.conflicting_attribute(), None);
        assert!(aws.to_string().contains("duplicate resource"));
    }

    #[test]
    fn earlier_sends_are_counted_in_the_message() {
        // Three rounds of one POST each (apply sends a create again after a lookup finds
        // nothing): the message counts the three.
        let e = http(502, None, None).after_earlier_sends(2);
        assert_eq!(e.attempts(), 3);
        assert!(e.to_string().contains("after 3 attempt(s)"), "{e}");
    }

    #[test]
    fn server_error_says_retried() {
        let mut e = http(503, None, None);
        if let ScimClientError::Http { attempts, .. } = &mut e {
            *attempts = 5;
        }
        let m = e.to_string();
        assert!(m.contains("after 5 attempt"), "{m}");
        assert!(e.outcome_unknown());
        assert!(!http(400, None, None).outcome_unknown());
    }
}
