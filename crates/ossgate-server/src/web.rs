//! The upload page: every file under the workspace's `web/` folder, embedded
//! at build time (see `build.rs`) and served with a content type guessed from
//! its extension. `/` serves `index.html`.
//!
//! [`security_headers`] lists the headers that go with every one of these
//! files. Their Content-Security-Policy allows exactly what the page uses:
//! its own scripts, style sheet, icon and API, and the bucket's origin. The
//! page posts the upload forms there (XMLHttpRequest) and loads the
//! thumbnails of uploaded images from there (presigned URLs). It has no
//! inline script or style, no `data:` or `blob:` URL and submits no form
//! natively.

use axum::http::{header, HeaderName, HeaderValue};

include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));

/// An embedded file.
#[derive(Clone, Copy, Debug)]
pub struct Asset {
    pub body: &'static [u8],
    pub content_type: &'static str,
}

/// Returns the file for a URL path, if one is embedded.
pub fn asset(path: &str) -> Option<Asset> {
    let path = if path == "/" { "/index.html" } else { path };
    let (name, body) = ASSETS.iter().find(|(name, _)| *name == path)?;
    Some(Asset {
        body,
        content_type: content_type(name),
    })
}

/// Returns the headers to send with every page file, for a bucket at
/// `bucket_url` (the URL the upload tokens and presigned URLs start with).
pub fn security_headers(bucket_url: &str) -> [(HeaderName, HeaderValue); 5] {
    let policy = content_security_policy(bucket_url);
    [
        (
            header::CONTENT_SECURITY_POLICY,
            // The policy is built from a parsed URL's ASCII origin and fixed
            // text, so it is always a valid header value.
            HeaderValue::try_from(policy)
                .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'")),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        // The origin, not the full page URL, still goes to the bucket, so a
        // bucket with a Referer allowlist (OSS hotlink protection) keeps
        // serving the thumbnails.
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ),
        // For browsers without `frame-ancestors`.
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ),
    ]
}

/// Returns the Content-Security-Policy of the page for a bucket at
/// `bucket_url`. Only the bucket URL's origin is allowed, because presigned
/// URLs add the object key to its path. A URL without an origin (settings
/// validation rejects one) allows no bucket at all.
pub fn content_security_policy(bucket_url: &str) -> String {
    let bucket_origin = url::Url::parse(bucket_url)
        .ok()
        .map(|url| url.origin())
        .filter(url::Origin::is_tuple)
        .map(|origin| format!(" {}", origin.ascii_serialization()))
        .unwrap_or_default();
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; \
         img-src 'self'{bucket_origin}; connect-src 'self'{bucket_origin}; \
         form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
}

/// Returns the content type for a file name, with `charset=utf-8` for text.
fn content_type(name: &str) -> &'static str {
    let extension = name.rsplit_once('.').map_or("", |(_, extension)| extension);
    match extension.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "txt" | "md" => "text/plain; charset=utf-8",
        "webmanifest" => "application/manifest+json",
        _ => mime_guess::from_ext(extension)
            .first_raw()
            .unwrap_or("application/octet-stream"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(content_type("/index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("/app.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("/style.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("/logo.png"), "image/png");
        assert_eq!(content_type("/blob"), "application/octet-stream");
    }

    #[test]
    fn policy_allows_bucket_origin_only() {
        let policy = content_security_policy("https://examplebucket.oss-cn-hangzhou.aliyuncs.com/");
        assert_eq!(
            policy,
            "default-src 'none'; script-src 'self'; style-src 'self'; \
             img-src 'self' https://examplebucket.oss-cn-hangzhou.aliyuncs.com; \
             connect-src 'self' https://examplebucket.oss-cn-hangzhou.aliyuncs.com; \
             form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
        );
    }

    #[test]
    fn policy_keeps_emulator_port_and_drops_path() {
        let policy = content_security_policy("http://127.0.0.1:40123/ossgate-dev");
        assert!(
            policy.contains("connect-src 'self' http://127.0.0.1:40123;"),
            "{policy}"
        );
        assert!(
            policy.contains("img-src 'self' http://127.0.0.1:40123;"),
            "{policy}"
        );
        assert!(!policy.contains("ossgate-dev"), "{policy}");
    }

    #[test]
    fn policy_without_bucket_origin_allows_self_only() {
        for bucket_url in ["", "not a url", "data:text/plain,x"] {
            let policy = content_security_policy(bucket_url);
            assert!(
                policy.contains("connect-src 'self';"),
                "{bucket_url:?}: {policy}"
            );
            assert!(
                policy.contains("img-src 'self';"),
                "{bucket_url:?}: {policy}"
            );
        }
    }

    #[test]
    fn security_headers_are_valid_and_complete() {
        let headers = security_headers("http://127.0.0.1:40123/ossgate-dev");
        let names: Vec<&str> = headers.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            names,
            [
                "content-security-policy",
                "x-content-type-options",
                "referrer-policy",
                "x-frame-options",
                "cross-origin-opener-policy",
            ]
        );
        assert_eq!(
            headers[0].1.to_str().unwrap(),
            content_security_policy("http://127.0.0.1:40123/ossgate-dev")
        );
    }

    #[test]
    fn every_file_in_web_is_embedded() {
        let web = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web");
        let Ok(entries) = std::fs::read_dir(&web) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.path().is_file() && !name.starts_with('.') && !name.ends_with('~') {
                let served = asset(&format!("/{name}")).map(|asset| asset.body.to_vec());
                assert_eq!(served, Some(std::fs::read(entry.path()).unwrap()), "{name}");
            }
        }
    }
}
