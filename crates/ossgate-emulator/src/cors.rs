//! Per-bucket CORS, as OSS evaluates it.
//!
//! A rule matches when the origin matches one of its `allowed_origins` (one
//! `*` wildcard allowed per pattern) and the method is one of its
//! `allowed_methods`. For a preflight, every header named in
//! `Access-Control-Request-Headers` must also match one of its
//! `allowed_headers` (case-insensitive, one `*` allowed). The first matching
//! rule wins.
//!
//! A preflight (`OPTIONS`) that matches gets 200 with the `Access-Control-*`
//! headers; one that does not gets 403 `AccessForbidden`, like OSS. An actual
//! request carries `Access-Control-*` headers only when a rule matches its
//! origin and method; otherwise it is answered without them and the browser
//! blocks the result.

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use crate::config::CorsRule;
use crate::error::OssError;

const NOT_ALLOWED: &str = "CORSResponse: This CORS request is not allowed. This is usually \
     because the evalution of Origin, request method / Access-Control-Request-Method or \
     Access-Control-Requet-Headers are not whitelisted by the resource's CORS spec.";

/// Matches `value` against a pattern with at most one `*`.
fn wildcard_match(pattern: &str, value: &str, ignore_case: bool) -> bool {
    let (pattern, value) = if ignore_case {
        (pattern.to_ascii_lowercase(), value.to_ascii_lowercase())
    } else {
        (pattern.to_owned(), value.to_owned())
    };
    match pattern.split_once('*') {
        None => pattern == value,
        Some((prefix, suffix)) => {
            value.len() >= prefix.len() + suffix.len()
                && value.starts_with(prefix)
                && value.ends_with(suffix)
        }
    }
}

impl CorsRule {
    fn matches_origin(&self, origin: &str) -> bool {
        self.allowed_origins
            .iter()
            .any(|pattern| wildcard_match(pattern, origin, false))
    }

    fn matches_method(&self, method: &str) -> bool {
        self.allowed_methods.iter().any(|allowed| allowed == method)
    }

    fn matches_header(&self, header: &str) -> bool {
        self.allowed_headers
            .iter()
            .any(|pattern| wildcard_match(pattern, header, true))
    }
}

fn insert(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(HeaderName::from_static(name), value);
    }
}

/// Builds the headers every CORS response carries for a matched rule.
fn rule_headers(rule: &CorsRule, origin: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    insert(&mut headers, "access-control-allow-origin", origin);
    insert(
        &mut headers,
        "access-control-allow-methods",
        &rule.allowed_methods.join(", "),
    );
    if !rule.expose_headers.is_empty() {
        insert(
            &mut headers,
            "access-control-expose-headers",
            &rule.expose_headers.join(", "),
        );
    }
    if let Some(max_age) = rule.max_age_seconds {
        insert(&mut headers, "access-control-max-age", &max_age.to_string());
    }
    headers
}

fn forbidden(message: &str) -> OssError {
    OssError::new(StatusCode::FORBIDDEN, "AccessForbidden", message)
}

/// Evaluates a preflight request against a bucket's rules.
///
/// # Errors
/// 403 `AccessForbidden` when the bucket has no CORS rules, the request lacks
/// `Origin` or `Access-Control-Request-Method`, or no rule matches.
pub fn preflight(rules: &[CorsRule], request: &HeaderMap) -> Result<HeaderMap, OssError> {
    if rules.is_empty() {
        return Err(forbidden(
            "CORSResponse: CORS is not enabled for this bucket.",
        ));
    }
    let header = |name: &str| request.get(name).and_then(|v| v.to_str().ok());
    let (Some(origin), Some(method)) = (header("origin"), header("access-control-request-method"))
    else {
        return Err(forbidden(
            "CORSResponse: Insufficient information. Origin and Access-Control-Request-Method request headers needed.",
        ));
    };
    let requested: Vec<&str> = header("access-control-request-headers")
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .collect();

    let rule = rules.iter().find(|rule| {
        rule.matches_origin(origin)
            && rule.matches_method(method)
            && requested.iter().all(|h| rule.matches_header(h))
    });
    let Some(rule) = rule else {
        return Err(forbidden(NOT_ALLOWED));
    };

    let mut headers = rule_headers(rule, origin);
    if !requested.is_empty() {
        insert(
            &mut headers,
            "access-control-allow-headers",
            &requested.join(", "),
        );
    }
    insert(
        &mut headers,
        "vary",
        "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
    );
    Ok(headers)
}

/// Returns the CORS headers for an actual (non-preflight) request, or `None`
/// when it has no `Origin` or no rule matches.
pub fn actual_request(rules: &[CorsRule], method: &str, request: &HeaderMap) -> Option<HeaderMap> {
    let origin = request.get("origin")?.to_str().ok()?;
    let rule = rules
        .iter()
        .find(|rule| rule.matches_origin(origin) && rule.matches_method(method))?;
    let mut headers = rule_headers(rule, origin);
    insert(&mut headers, "vary", "Origin");
    Some(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_matches_prefix_and_suffix() {
        assert!(wildcard_match(
            "https://*.example.com",
            "https://a.example.com",
            false
        ));
        assert!(wildcard_match("*", "http://anything", false));
        assert!(!wildcard_match(
            "https://*.example.com",
            "https://example.com",
            false
        ));
        assert!(!wildcard_match(
            "https://*.example.com",
            "http://a.example.com",
            false
        ));
        assert!(wildcard_match("x-oss-*", "X-OSS-Meta-A", true));
        assert!(!wildcard_match("http://a.com", "http://a.com.evil", false));
    }
}
