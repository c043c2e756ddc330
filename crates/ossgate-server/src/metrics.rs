//! Prometheus metrics in the text exposition format, kept by hand.
//!
//! Series: `ossgate_tokens_issued_total{endpoint}`,
//! `ossgate_callbacks_total{outcome,reason}`,
//! `ossgate_key_fetches_total{outcome}` and the histogram
//! `ossgate_http_request_duration_seconds{method,route,status}`. Label values
//! come from fixed sets, so the number of series stays bounded whatever
//! clients send: methods outside RFC 9110's and PATCH are `other`, and routes
//! are the router's templates (`/api/uploads/{id}`), never raw paths. Page
//! files are `static`, and requests that match nothing are `unmatched`.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use http::Method;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Clone, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Series {
    tokens: BTreeMap<&'static str, u64>,
    callbacks: BTreeMap<(&'static str, &'static str), u64>,
    key_fetches: BTreeMap<&'static str, u64>,
    /// Route template, then method label and status.
    requests: BTreeMap<String, HashMap<(&'static str, u16), Histogram>>,
}

/// The server's metrics. Updates take a short lock.
#[derive(Default)]
pub struct Metrics {
    series: Mutex<Series>,
}

impl Metrics {
    fn with<T>(&self, update: impl FnOnce(&mut Series) -> T) -> T {
        let mut series = self
            .series
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        update(&mut series)
    }

    /// Counts a token issued by `endpoint` (`upload-token` or `policy`).
    pub fn token_issued(&self, endpoint: &'static str) {
        self.with(|series| *series.tokens.entry(endpoint).or_default() += 1);
    }

    /// Counts a callback: `outcome` is `accepted`, `replayed` or `rejected`,
    /// `reason` is `ok` or the rejection reason.
    pub fn callback(&self, outcome: &'static str, reason: &'static str) {
        self.with(|series| *series.callbacks.entry((outcome, reason)).or_default() += 1);
    }

    /// Counts a public key fetch: `ok` or `error`.
    pub fn key_fetch(&self, outcome: &'static str) {
        self.with(|series| *series.key_fetches.entry(outcome).or_default() += 1);
    }

    /// Records one request's latency under its route template. `route` must
    /// come from a fixed set, such as the router's templates.
    pub fn request(&self, method: &Method, route: &str, status: u16, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let method = method_label(method);
        self.with(|series| {
            // Look up by reference first: allocating keys on every request
            // shows up in the token endpoint's throughput.
            if !series.requests.contains_key(route) {
                series.requests.insert(route.to_owned(), HashMap::new());
            }
            let by_status = series.requests.get_mut(route).expect("inserted above");
            let histogram = by_status.entry((method, status)).or_default();
            for (count, bound) in histogram.counts.iter_mut().zip(BUCKETS) {
                if seconds <= bound {
                    *count += 1;
                }
            }
            histogram.count += 1;
            histogram.sum += seconds;
        });
    }

    /// Renders every series in the Prometheus text format, version 0.0.4.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.with(|series| {
            out.push_str("# HELP ossgate_tokens_issued_total Upload tokens issued.\n");
            out.push_str("# TYPE ossgate_tokens_issued_total counter\n");
            for (endpoint, count) in &series.tokens {
                let _ = writeln!(out, "ossgate_tokens_issued_total{{endpoint=\"{endpoint}\"}} {count}");
            }

            out.push_str("# HELP ossgate_callbacks_total OSS callbacks by outcome and reason.\n");
            out.push_str("# TYPE ossgate_callbacks_total counter\n");
            for ((outcome, reason), count) in &series.callbacks {
                let _ = writeln!(
                    out,
                    "ossgate_callbacks_total{{outcome=\"{outcome}\",reason=\"{reason}\"}} {count}"
                );
            }

            out.push_str("# HELP ossgate_key_fetches_total Callback public key fetches.\n");
            out.push_str("# TYPE ossgate_key_fetches_total counter\n");
            for (outcome, count) in &series.key_fetches {
                let _ = writeln!(out, "ossgate_key_fetches_total{{outcome=\"{outcome}\"}} {count}");
            }

            out.push_str("# HELP ossgate_http_request_duration_seconds HTTP request latency.\n");
            out.push_str("# TYPE ossgate_http_request_duration_seconds histogram\n");
            let mut flattened: Vec<_> = series
                .requests
                .iter()
                .flat_map(|(route, by_status)| {
                    by_status
                        .iter()
                        .map(move |((method, status), histogram)| (*method, route, status, histogram))
                })
                .collect();
            flattened.sort_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
            for (method, route, status, histogram) in flattened {
                let labels = format!(
                    "method=\"{}\",route=\"{}\",status=\"{status}\"",
                    escape(method),
                    escape(route)
                );
                for (count, bound) in histogram.counts.iter().zip(BUCKETS) {
                    let _ = writeln!(
                        out,
                        "ossgate_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {count}"
                    );
                }
                let _ = writeln!(
                    out,
                    "ossgate_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                    histogram.count
                );
                let _ = writeln!(
                    out,
                    "ossgate_http_request_duration_seconds_sum{{{labels}}} {}",
                    histogram.sum
                );
                let _ = writeln!(
                    out,
                    "ossgate_http_request_duration_seconds_count{{{labels}}} {}",
                    histogram.count
                );
            }
        });
        out
    }
}

/// Returns the method's label: its name for the methods of RFC 9110 and
/// PATCH, else `other`. HTTP allows any token as a method, and a label per
/// invented method would let clients add series without bound.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::CONNECT => "CONNECT",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invented_methods_are_labelled_other() {
        let metrics = Metrics::default();
        for name in ["M00001X", "M00002X", "get", "PROPFIND"] {
            let method = Method::from_bytes(name.as_bytes()).unwrap();
            metrics.request(&method, "/healthz", 405, Duration::from_millis(1));
        }
        metrics.request(&Method::PATCH, "/healthz", 405, Duration::from_millis(1));
        let text = metrics.render();
        assert!(!text.contains("M00001X"), "{text}");
        assert!(!text.contains("PROPFIND"), "{text}");
        assert!(text.contains(
            "ossgate_http_request_duration_seconds_count\
             {method=\"other\",route=\"/healthz\",status=\"405\"} 4\n"
        ));
        assert!(text.contains(
            "ossgate_http_request_duration_seconds_count\
             {method=\"PATCH\",route=\"/healthz\",status=\"405\"} 1\n"
        ));
    }

    #[test]
    fn render_counts_and_buckets() {
        let metrics = Metrics::default();
        metrics.token_issued("upload-token");
        metrics.token_issued("upload-token");
        metrics.callback("rejected", "signature_mismatch");
        metrics.key_fetch("ok");
        metrics.request(
            &Method::GET,
            "/api/upload-token",
            200,
            Duration::from_millis(3),
        );
        let text = metrics.render();
        assert!(text.contains("ossgate_tokens_issued_total{endpoint=\"upload-token\"} 2\n"));
        assert!(text.contains(
            "ossgate_callbacks_total{outcome=\"rejected\",reason=\"signature_mismatch\"} 1\n"
        ));
        assert!(text.contains("ossgate_key_fetches_total{outcome=\"ok\"} 1\n"));
        let labels = "method=\"GET\",route=\"/api/upload-token\",status=\"200\"";
        assert!(text.contains(&format!(
            "ossgate_http_request_duration_seconds_bucket{{{labels},le=\"0.0025\"}} 0\n"
        )));
        assert!(text.contains(&format!(
            "ossgate_http_request_duration_seconds_bucket{{{labels},le=\"0.005\"}} 1\n"
        )));
        assert!(text.contains(&format!(
            "ossgate_http_request_duration_seconds_count{{{labels}}} 1\n"
        )));
    }
}
