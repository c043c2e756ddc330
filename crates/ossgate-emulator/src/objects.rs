//! GetObject, HeadObject, DeleteObject and ListObjects (V1 and V2).
//!
//! Access: a presigned URL (V1 or V4) is verified by the protocol crate.
//! Without one, reads are anonymous and allowed only when the object's ACL,
//! or the bucket's ACL for objects left at `default`, is public-read or
//! public-read-write. Anonymous deletes need a public-read-write bucket.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use tokio::io::AsyncReadExt as _;

use crate::config::BucketAcl;
use crate::error::OssError;
use crate::post_object::encode_key;
use crate::routes::RequestContext;
use crate::storage::{ObjectAcl, ObjectMeta};
use crate::xml::XmlWriter;
use crate::{auth, AppState};

type Query = Vec<(String, String)>;

fn parse_query(request: &Request) -> Query {
    url::form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn query_value<'q>(query: &'q Query, name: &str) -> Option<&'q str> {
    query
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// The kind of proof a request gave of its right to act.
#[derive(PartialEq, Eq)]
enum Access {
    Signed,
    Anonymous,
}

/// Verifies a presigned URL when there is one and rejects header signatures,
/// which the emulator does not check.
fn authenticate(
    state: &AppState,
    context: &RequestContext,
    request: &Request,
    query: &Query,
) -> Result<Access, OssError> {
    if auth::is_presigned(query) {
        let key = context.key.as_deref().unwrap_or("");
        auth::check_presigned(
            &state.inner.config,
            request.method().as_str(),
            &context.bucket.name,
            key,
            query,
            context.now,
        )?;
        return Ok(Access::Signed);
    }
    if request.headers().contains_key(header::AUTHORIZATION) {
        return Err(OssError::not_implemented(
            "Verifying an Authorization header signature",
        ));
    }
    Ok(Access::Anonymous)
}

/// Returns whether an anonymous request may read an object with this ACL.
fn anonymous_may_read(bucket_acl: BucketAcl, object_acl: ObjectAcl) -> bool {
    match object_acl {
        ObjectAcl::Default => bucket_acl.allows_anonymous_read(),
        ObjectAcl::Private => false,
        ObjectAcl::PublicRead | ObjectAcl::PublicReadWrite => true,
    }
}

/// Handles GetObject and HeadObject.
pub(crate) async fn get(
    state: &AppState,
    context: &RequestContext,
    request: Request,
) -> Result<Response, OssError> {
    let key = context.key.as_deref().unwrap_or_default();
    let query = parse_query(&request);
    let access = authenticate(state, context, &request, &query)?;

    let meta = state.inner.storage.head(&context.bucket.name, key).await?;
    if access == Access::Anonymous {
        let allowed = match &meta {
            Some(meta) => anonymous_may_read(context.bucket.acl, meta.acl),
            None => context.bucket.acl.allows_anonymous_read(),
        };
        if !allowed {
            return Err(OssError::bucket_acl_denied());
        }
    }
    let Some(meta) = meta else {
        return Err(OssError::no_such_key());
    };

    if let Some(status) = check_preconditions(request.headers(), &meta)? {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = status;
        add_object_headers(response.headers_mut(), &meta);
        return Ok(response);
    }

    let range = match parse_range(request.headers(), meta.size) {
        RangeRequest::Full => None,
        RangeRequest::Partial(start, end) => Some((start, end)),
        RangeRequest::Unsatisfiable => {
            return Err(OssError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "InvalidRange",
                "The requested range cannot be satisfied.",
            )
            .with_detail("ActualObjectSize", meta.size.to_string()));
        }
    };
    let (start, length) = match range {
        Some((start, end)) => (start, end - start + 1),
        None => (0, meta.size),
    };

    let head = request.method() == Method::HEAD;
    let body = if head {
        Body::empty()
    } else {
        // Opened again: an overwrite since the metadata read is served whole
        // or not at all.
        match state
            .inner
            .storage
            .open_object(&context.bucket.name, key, start)
            .await?
        {
            Some((opened, file)) if opened.etag == meta.etag => {
                let stream =
                    tokio_util::io::ReaderStream::with_capacity(file.take(length), 64 * 1024);
                Body::from_stream(stream)
            }
            Some(_) => {
                return Err(OssError::new(
                    StatusCode::CONFLICT,
                    "ObjectChanged",
                    "The object was overwritten while it was being read; retry the request.",
                ))
            }
            None => return Err(OssError::no_such_key()),
        }
    };

    let mut response = Response::new(body);
    let headers = response.headers_mut();
    add_object_headers(headers, &meta);
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some((start, end)) = range {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        if let Ok(value) = HeaderValue::from_str(&format!("bytes {start}-{end}/{}", meta.size)) {
            response.headers_mut().insert(header::CONTENT_RANGE, value);
        }
    }
    apply_response_overrides(response.headers_mut(), &query);
    Ok(response)
}

/// Adds the headers that describe a stored object.
fn add_object_headers(headers: &mut HeaderMap, meta: &ObjectMeta) {
    let mut put = |name: &str, value: &str| {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.insert(name, value);
        }
    };
    put("content-type", &meta.content_type);
    put("etag", &meta.quoted_etag());
    put(
        "last-modified",
        &httpdate::fmt_http_date(meta.last_modified.into()),
    );
    put("x-oss-hash-crc64ecma", &meta.crc64.to_string());
    put("content-md5", &meta.content_md5());
    put("x-oss-object-type", "Normal");
    put("x-oss-storage-class", &meta.storage_class);
    for (name, value) in meta.headers.iter().chain(&meta.user_meta) {
        put(name, value);
    }
}

/// `response-*` query parameters override the stored headers of one response.
fn apply_response_overrides(headers: &mut HeaderMap, query: &Query) {
    let overrides = [
        ("response-content-type", header::CONTENT_TYPE),
        ("response-content-language", header::CONTENT_LANGUAGE),
        ("response-expires", header::EXPIRES),
        ("response-cache-control", header::CACHE_CONTROL),
        ("response-content-disposition", header::CONTENT_DISPOSITION),
        ("response-content-encoding", header::CONTENT_ENCODING),
    ];
    for (parameter, name) in overrides {
        if let Some(value) = query_value(query, parameter) {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(name, value);
            }
        }
    }
}

/// Returns whether an `If-Match`/`If-None-Match` list names the ETag.
fn etag_list_matches(list: &str, etag: &str) -> bool {
    list.split(',').map(str::trim).any(|candidate| {
        let candidate = candidate.strip_prefix("W/").unwrap_or(candidate);
        candidate == "*" || candidate.trim_matches('"') == etag
    })
}

fn header_text(headers: &HeaderMap, name: HeaderName) -> Option<&str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

fn header_date(headers: &HeaderMap, name: HeaderName) -> Option<DateTime<Utc>> {
    let text = header_text(headers, name)?;
    httpdate::parse_http_date(text)
        .ok()
        .map(DateTime::<Utc>::from)
}

/// Evaluates the conditional headers: `Some(304)` when the client's copy is
/// current, an error 412 when a precondition fails, `None` to serve the object.
fn check_preconditions(
    headers: &HeaderMap,
    meta: &ObjectMeta,
) -> Result<Option<StatusCode>, OssError> {
    let precondition_failed = || {
        OssError::new(
            StatusCode::PRECONDITION_FAILED,
            "PreconditionFailed",
            "At least one of the pre-conditions you specified did not hold.",
        )
    };
    let modified = meta.last_modified.timestamp();

    if let Some(list) = header_text(headers, header::IF_MATCH) {
        if !etag_list_matches(list, &meta.etag) {
            return Err(precondition_failed());
        }
    } else if let Some(date) = header_date(headers, header::IF_UNMODIFIED_SINCE) {
        if modified > date.timestamp() {
            return Err(precondition_failed());
        }
    }

    if let Some(list) = header_text(headers, header::IF_NONE_MATCH) {
        if etag_list_matches(list, &meta.etag) {
            return Ok(Some(StatusCode::NOT_MODIFIED));
        }
    } else if let Some(date) = header_date(headers, header::IF_MODIFIED_SINCE) {
        if modified <= date.timestamp() {
            return Ok(Some(StatusCode::NOT_MODIFIED));
        }
    }
    Ok(None)
}

#[derive(Debug, PartialEq, Eq)]
enum RangeRequest {
    Full,
    /// Inclusive byte positions.
    Partial(u64, u64),
    Unsatisfiable,
}

/// Parses `Range: bytes=…` the way OSS does: one range, `a-b`, `a-` or `-n`.
/// A malformed header or several ranges are ignored and the whole object is
/// served; a range starting past the end is unsatisfiable.
fn parse_range(headers: &HeaderMap, size: u64) -> RangeRequest {
    let Some(text) = header_text(headers, header::RANGE) else {
        return RangeRequest::Full;
    };
    let Some(spec) = text.trim().strip_prefix("bytes=") else {
        return RangeRequest::Full;
    };
    if spec.contains(',') {
        return RangeRequest::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Full;
    };
    let parse = |text: &str| text.trim().parse::<u64>().ok();

    match (first.trim().is_empty(), last.trim().is_empty()) {
        // `-n`: the last n bytes.
        (true, false) => match parse(last) {
            Some(0) | None => RangeRequest::Full,
            Some(_) if size == 0 => RangeRequest::Unsatisfiable,
            Some(suffix) => RangeRequest::Partial(size.saturating_sub(suffix), size - 1),
        },
        // `a-`: from a to the end.
        (false, true) => match parse(first) {
            None => RangeRequest::Full,
            Some(start) if start >= size => RangeRequest::Unsatisfiable,
            Some(start) => RangeRequest::Partial(start, size - 1),
        },
        (false, false) => match (parse(first), parse(last)) {
            (Some(start), Some(end)) if start <= end => {
                if start >= size {
                    RangeRequest::Unsatisfiable
                } else {
                    RangeRequest::Partial(start, end.min(size - 1))
                }
            }
            _ => RangeRequest::Full,
        },
        (true, true) => RangeRequest::Full,
    }
}

/// Handles DeleteObject. Deleting a missing key succeeds, as on OSS.
pub(crate) async fn delete(
    state: &AppState,
    context: &RequestContext,
    request: Request,
) -> Result<Response, OssError> {
    let key = context.key.as_deref().unwrap_or_default();
    let query = parse_query(&request);
    let access = authenticate(state, context, &request, &query)?;
    if access == Access::Anonymous && context.bucket.acl != BucketAcl::PublicReadWrite {
        return Err(OssError::bucket_acl_denied());
    }
    state
        .inner
        .storage
        .delete(&context.bucket.name, key)
        .await?;
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    Ok(response)
}

/// One entry of a listing page: an object or a common prefix.
enum Entry<'m> {
    Object(&'m ObjectMeta),
    Prefix(String),
}

/// The listing parameters shared by V1 and V2.
struct ListRequest {
    prefix: String,
    delimiter: String,
    max_keys: usize,
    /// List entries after this key or common prefix.
    after: Option<String>,
    url_encoding: bool,
}

/// The maximum `max-keys` OSS accepts.
const MAX_KEYS_LIMIT: usize = 1000;

/// Handles ListObjects (V1) and, with `list-type=2`, ListObjectsV2.
pub(crate) async fn list(
    state: &AppState,
    context: &RequestContext,
    request: Request,
) -> Result<Response, OssError> {
    let query = parse_query(&request);
    let access = authenticate(state, context, &request, &query)?;
    if access == Access::Anonymous && !context.bucket.acl.allows_anonymous_read() {
        return Err(OssError::bucket_acl_denied());
    }

    let v2 = query_value(&query, "list-type") == Some("2");
    let max_keys = match query_value(&query, "max-keys") {
        None => 100,
        Some(text) => match text.parse::<usize>() {
            Ok(value) if (1..=MAX_KEYS_LIMIT).contains(&value) => value,
            _ => {
                return Err(OssError::invalid_argument(format!(
                    "Argument max-keys must be an integer between 1 and {MAX_KEYS_LIMIT}."
                ))
                .with_detail("ArgumentName", "max-keys")
                .with_detail("ArgumentValue", text))
            }
        },
    };
    let encoding_type = query_value(&query, "encoding-type");
    if encoding_type.is_some_and(|value| value != "url") {
        return Err(OssError::invalid_argument(
            "Invalid Encoding Method specified in Request",
        ));
    }
    let continuation_token = query_value(&query, "continuation-token");
    let after = if v2 {
        match continuation_token {
            Some(token) => Some(decode_token(token)?),
            None => query_value(&query, "start-after").map(str::to_owned),
        }
    } else {
        query_value(&query, "marker").map(str::to_owned)
    };
    let list_request = ListRequest {
        prefix: query_value(&query, "prefix").unwrap_or("").to_owned(),
        delimiter: query_value(&query, "delimiter").unwrap_or("").to_owned(),
        max_keys,
        after: after.filter(|value| !value.is_empty()),
        url_encoding: encoding_type.is_some(),
    };

    let objects = state.inner.storage.list(&context.bucket.name).await?;
    let (entries, truncated) = select_entries(&objects, &list_request);
    let xml = if v2 {
        render_v2(context, &query, &list_request, &entries, truncated)
    } else {
        render_v1(context, &query, &list_request, &entries, truncated)
    };

    let mut response = Response::new(Body::from(xml));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    Ok(response)
}

/// Picks one page of entries: objects under the prefix after the marker,
/// with keys that contain the delimiter after the prefix rolled up into
/// common prefixes. Returns the page and whether more entries follow.
fn select_entries<'m>(objects: &'m [ObjectMeta], request: &ListRequest) -> (Vec<Entry<'m>>, bool) {
    let mut entries: Vec<Entry<'m>> = Vec::new();
    let mut last_prefix: Option<String> = None;

    for meta in objects {
        let key = meta.key.as_str();
        if !key.starts_with(&request.prefix) {
            continue;
        }
        if let Some(after) = &request.after {
            let inside_returned_prefix = !request.delimiter.is_empty()
                && after.ends_with(&request.delimiter)
                && key.starts_with(after.as_str());
            if key <= after.as_str() || inside_returned_prefix {
                continue;
            }
        }

        let rest = &key[request.prefix.len()..];
        let entry = match rest
            .find(&request.delimiter)
            .filter(|_| !request.delimiter.is_empty())
        {
            Some(index) => {
                let common = format!(
                    "{}{}",
                    request.prefix,
                    &rest[..index + request.delimiter.len()]
                );
                if last_prefix.as_deref() == Some(common.as_str()) {
                    continue;
                }
                last_prefix = Some(common.clone());
                Entry::Prefix(common)
            }
            None => Entry::Object(meta),
        };

        if entries.len() == request.max_keys {
            return (entries, true);
        }
        entries.push(entry);
    }
    (entries, false)
}

fn encode_token(marker: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(marker)
}

fn decode_token(token: &str) -> Result<String, OssError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| {
            OssError::invalid_argument("The continuation token provided is incorrect.")
                .with_detail("ArgumentName", "continuation-token")
                .with_detail("ArgumentValue", token)
        })
}

/// Returns the marker of the last entry of a page, where the next page starts.
fn last_marker(entries: &[Entry<'_>]) -> String {
    match entries.last() {
        Some(Entry::Object(meta)) => meta.key.clone(),
        Some(Entry::Prefix(prefix)) => prefix.clone(),
        None => String::new(),
    }
}

fn format_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Writes the `Contents` and `CommonPrefixes` elements.
fn write_entries(xml: &mut XmlWriter, entries: &[Entry<'_>], encode: &dyn Fn(&str) -> String) {
    for entry in entries {
        if let Entry::Object(meta) = entry {
            xml.open("Contents");
            xml.element("Key", &encode(&meta.key));
            xml.element("LastModified", &format_time(meta.last_modified));
            xml.element("ETag", &meta.quoted_etag());
            xml.element("Type", "Normal");
            xml.element("Size", &meta.size.to_string());
            xml.element("StorageClass", &meta.storage_class);
            xml.close("Contents");
        }
    }
    for entry in entries {
        if let Entry::Prefix(prefix) = entry {
            xml.open("CommonPrefixes");
            xml.element("Prefix", &encode(prefix));
            xml.close("CommonPrefixes");
        }
    }
}

fn encoder(request: &ListRequest) -> impl Fn(&str) -> String {
    let url_encoding = request.url_encoding;
    move |text: &str| {
        if url_encoding {
            encode_key(text)
        } else {
            text.to_owned()
        }
    }
}

fn render_v2(
    context: &RequestContext,
    query: &Query,
    request: &ListRequest,
    entries: &[Entry<'_>],
    truncated: bool,
) -> String {
    let encode = encoder(request);
    let mut xml = XmlWriter::new();
    xml.open("ListBucketResult");
    xml.element("Name", &context.bucket.name);
    xml.element("Prefix", &encode(&request.prefix));
    if let Some(token) = query_value(query, "continuation-token") {
        xml.element("ContinuationToken", token);
    }
    if let Some(start_after) = query_value(query, "start-after") {
        xml.element("StartAfter", &encode(start_after));
    }
    xml.element("MaxKeys", &request.max_keys.to_string());
    xml.element("Delimiter", &encode(&request.delimiter));
    if request.url_encoding {
        xml.element("EncodingType", "url");
    }
    xml.element("IsTruncated", if truncated { "true" } else { "false" });
    if truncated {
        xml.element(
            "NextContinuationToken",
            &encode_token(&last_marker(entries)),
        );
    }
    xml.element("KeyCount", &entries.len().to_string());
    write_entries(&mut xml, entries, &encode);
    xml.close("ListBucketResult");
    xml.finish()
}

fn render_v1(
    context: &RequestContext,
    query: &Query,
    request: &ListRequest,
    entries: &[Entry<'_>],
    truncated: bool,
) -> String {
    let encode = encoder(request);
    let mut xml = XmlWriter::new();
    xml.open("ListBucketResult");
    xml.element("Name", &context.bucket.name);
    xml.element("Prefix", &encode(&request.prefix));
    xml.element(
        "Marker",
        &encode(query_value(query, "marker").unwrap_or("")),
    );
    xml.element("MaxKeys", &request.max_keys.to_string());
    xml.element("Delimiter", &encode(&request.delimiter));
    if request.url_encoding {
        xml.element("EncodingType", "url");
    }
    xml.element("IsTruncated", if truncated { "true" } else { "false" });
    if truncated {
        xml.element("NextMarker", &encode(&last_marker(entries)));
    }
    write_entries(&mut xml, entries, &encode);
    xml.close("ListBucketResult");
    xml.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(value: &str, size: u64) -> RangeRequest {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, HeaderValue::from_str(value).unwrap());
        parse_range(&headers, size)
    }

    #[test]
    fn ranges_parse_like_oss() {
        assert_eq!(range("bytes=0-9", 100), RangeRequest::Partial(0, 9));
        assert_eq!(range("bytes=90-200", 100), RangeRequest::Partial(90, 99));
        assert_eq!(range("bytes=10-", 100), RangeRequest::Partial(10, 99));
        assert_eq!(range("bytes=-10", 100), RangeRequest::Partial(90, 99));
        assert_eq!(range("bytes=-500", 100), RangeRequest::Partial(0, 99));
        assert_eq!(range("bytes=100-", 100), RangeRequest::Unsatisfiable);
        assert_eq!(range("bytes=100-200", 100), RangeRequest::Unsatisfiable);
        assert_eq!(range("bytes=9-1", 100), RangeRequest::Full);
        assert_eq!(range("bytes=0-1,5-6", 100), RangeRequest::Full);
        assert_eq!(range("items=0-1", 100), RangeRequest::Full);
    }

    #[test]
    fn etag_lists_match_quoted_and_star() {
        assert!(etag_list_matches("\"ABC\"", "ABC"));
        assert!(etag_list_matches("\"X\", W/\"ABC\"", "ABC"));
        assert!(etag_list_matches("*", "ABC"));
        assert!(!etag_list_matches("\"abc\"", "ABC"));
    }

    #[test]
    fn tokens_round_trip() {
        assert_eq!(decode_token(&encode_token("a/b c")).unwrap(), "a/b c");
        assert!(decode_token("!!!").is_err());
    }
}
