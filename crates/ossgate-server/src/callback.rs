//! The OSS upload callback: verify, check the ticket, record.
//!
//! Order matters. The body is parsed and the ticket's MAC is checked first,
//! because both are cheap and need only the server secret. So an anonymous
//! POST without a ticket this server sealed is rejected before the public key
//! is resolved, and it cannot make the server fetch a key. Then the RSA
//! signature is checked over the raw request target and the raw body, before
//! any other value in the body is trusted. Then come the ticket's expiry
//! (plus the configured grace), the bucket, the object against the ticket's
//! directory or key, the size and the content type. Only then is the upload
//! recorded, with the file name from the ticket or, when the ticket has none,
//! the last segment of the object key.
//!
//! A replay of an accepted callback gets a response for the same record (with
//! a freshly presigned URL) and adds no row, as long as its ticket is within
//! the grace period. Later it is rejected as expired. A replay must repeat the
//! OSS request id, the token and the object: a callback reusing the request id
//! of another upload is rejected, so it never receives that upload's record.
//!
//! The request id comes from the body's `reqId`, which OSS fills from
//! `${reqId}` and covers with the signature. When that field is missing or
//! empty, the callback's `x-oss-request-id` header is used instead, with a
//! warning in the log, because `${reqId}` appears only in newer OSS
//! documentation and an endpoint that renders it empty would otherwise fail
//! every callback. Such an endpoint takes the fallback on every callback, so
//! the warning is logged for the first one and then at most once a minute,
//! with the number of fallbacks left unlogged in between. A callback with
//! neither is rejected.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use md5::{Digest, Md5};

use crate::app::AppState;
use crate::db::{key_filename, NewUpload, RecordOutcome, Recorded, Upload};
use crate::error::{ApiError, CallbackRejection};

/// A callback request as received.
#[derive(Clone, Copy, Debug)]
pub struct CallbackRequest<'a> {
    /// The request target as on the request line (`/path?query`), with the
    /// public path prefix already prepended.
    pub target: &'a str,
    /// The `authorization` header, base64.
    pub authorization: Option<&'a str>,
    /// The `x-oss-pub-key-url` header, base64.
    pub pub_key_url: Option<&'a str>,
    /// The `x-oss-request-id` header. OSS sends it with every callback, but
    /// the signature does not cover it.
    pub oss_request_id: Option<&'a str>,
    pub body: &'a [u8],
}

/// The values OSS substituted into the callback body template.
#[derive(Clone, Debug, Default)]
struct CallbackBody {
    bucket: String,
    object: String,
    etag: String,
    size: u64,
    mime_type: String,
    image_width: Option<u64>,
    image_height: Option<u64>,
    image_format: Option<String>,
    crc64: Option<String>,
    client_ip: Option<String>,
    request_id: String,
    ticket: String,
}

/// The maximum length of an `x-oss-request-id` header used as the request id.
/// The bound is a generous estimate, not a documented OSS limit, and it keeps
/// an unsigned value from bloating the database and the log.
const MAX_HEADER_REQUEST_ID_LENGTH: usize = 128;

/// The minimum time between two logged request-id fallback warnings.
const FALLBACK_WARNING_INTERVAL: Duration = Duration::from_secs(60);

/// The request-id fallback warning's limiter, one for the whole process.
static FALLBACK_WARNING: WarningLimiter = WarningLimiter::new(FALLBACK_WARNING_INTERVAL);

/// A rate limit for one repeated log warning: the first occurrence is logged,
/// then at most one per interval, and each logged occurrence carries the
/// number of occurrences suppressed since the previous logged one.
struct WarningLimiter {
    interval: Duration,
    state: Mutex<LimiterState>,
}

#[derive(Debug)]
struct LimiterState {
    /// When the last logged occurrence happened, `None` before the first.
    last_logged: Option<Instant>,
    /// Occurrences suppressed since `last_logged`.
    suppressed: u64,
}

impl WarningLimiter {
    const fn new(interval: Duration) -> Self {
        Self {
            interval,
            state: Mutex::new(LimiterState {
                last_logged: None,
                suppressed: 0,
            }),
        }
    }

    /// Records one occurrence at `now`. Returns `Some(suppressed)` when this
    /// occurrence should be logged, where `suppressed` is the number of
    /// occurrences left unlogged since the previous logged one, and `None`
    /// when it should be suppressed.
    fn record(&self, now: Instant) -> Option<u64> {
        // The state is two plain numbers that every update leaves consistent,
        // so a panic elsewhere while the lock was held cannot corrupt it.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let due = state
            .last_logged
            .is_none_or(|last| now.saturating_duration_since(last) >= self.interval);
        if !due {
            state.suppressed += 1;
            return None;
        }
        state.last_logged = Some(now);
        Some(std::mem::take(&mut state.suppressed))
    }
}

/// The origin of the OSS request id that identifies an upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RequestIdSource {
    /// The signed `reqId` field of the body.
    Body,
    /// The unsigned `x-oss-request-id` header.
    Header,
}

/// Verifies and records a callback.
///
/// # Errors
///
/// [`ApiError::Callback`] for a rejected callback (already logged and
/// counted), [`ApiError::Internal`] when the database fails.
pub async fn handle(
    state: &AppState,
    request: CallbackRequest<'_>,
    now: DateTime<Utc>,
) -> Result<(Upload, Recorded), ApiError> {
    let result = check_and_record(state, request, now).await;
    match &result {
        Ok((upload, Recorded::Inserted)) => {
            state.metrics().callback("accepted", "ok");
            tracing::info!(id = upload.id, object = %upload.object, size = upload.size,
                user = %upload.user_id, "upload recorded");
        }
        Ok((upload, Recorded::Replayed)) => {
            state.metrics().callback("replayed", "ok");
            tracing::info!(id = upload.id, object = %upload.object, "callback replay: responded from the existing record");
        }
        Err(ApiError::Callback(rejection)) => {
            state.metrics().callback("rejected", rejection.reason());
            let string_to_sign_md5 =
                ossgate_protocol::verify::string_to_sign(request.target, request.body)
                    .map(|text| hex::encode(Md5::digest(text)))
                    .unwrap_or_else(|_| "-".to_owned());
            tracing::warn!(
                reason = rejection.reason(),
                detail = %rejection,
                string_to_sign_md5,
                body_length = request.body.len(),
                "callback rejected"
            );
        }
        Err(_) => state.metrics().callback("failed", "internal"),
    }
    result
}

async fn check_and_record(
    state: &AppState,
    request: CallbackRequest<'_>,
    now: DateTime<Utc>,
) -> Result<(Upload, Recorded), ApiError> {
    use ossgate_protocol::VerifyError;
    let config = state.config();

    // The headers, the body's shape and the ticket's MAC, which need no key:
    // a request failing them never triggers a key fetch.
    let authorization =
        request
            .authorization
            .ok_or(CallbackRejection::Verify(VerifyError::MissingHeader(
                "authorization",
            )))?;
    let key_url =
        request
            .pub_key_url
            .ok_or(CallbackRejection::Verify(VerifyError::MissingHeader(
                "x-oss-pub-key-url",
            )))?;
    let mut body = parse_body(request.body)?;
    let (request_id, request_id_source) =
        resolve_request_id(&body.request_id, request.oss_request_id)?;
    body.request_id = request_id;
    let ticket = state
        .issuer()
        .ticket_key()
        .open(&body.ticket)
        .map_err(CallbackRejection::InvalidTicket)?;

    // The signature, over the raw target and body, before any other value
    // in the body is trusted.
    let key = state
        .keys()
        .resolve(key_url)
        .await
        .map_err(CallbackRejection::Verify)?;
    ossgate_protocol::verify::verify(request.target, request.body, authorization, &key)
        .map_err(CallbackRejection::Verify)?;

    // Warned only now, so an unsigned POST cannot fill the log with warnings.
    if request_id_source == RequestIdSource::Header {
        if let Some(suppressed_repeats) = FALLBACK_WARNING.record(Instant::now()) {
            tracing::warn!(
                object = %body.object,
                x_oss_request_id = %body.request_id,
                suppressed_repeats,
                "the callback body has no reqId, so the unsigned x-oss-request-id header was used as the request id (check that this OSS endpoint fills ${{reqId}}; this warning is logged at most once a minute, and suppressed_repeats counts the fallbacks since the last one)"
            );
        }
    }

    // The ticket's expiry, now that OSS vouches for the body.
    ticket
        .check_expiry(now, config.ticket_grace.as_secs())
        .map_err(CallbackRejection::TicketExpired)?;

    // What OSS stored against what the token allowed.
    if body.bucket != config.bucket {
        return Err(CallbackRejection::WrongBucket {
            bucket: body.bucket,
        }
        .into());
    }
    if !ticket.scope.allows(&body.object) {
        return Err(CallbackRejection::ObjectOutsideScope {
            object: body.object,
        }
        .into());
    }
    if body.size > config.max_size {
        return Err(CallbackRejection::EntityTooLarge {
            size: body.size,
            max: config.max_size,
        }
        .into());
    }
    if !config.content_types.is_empty() {
        let essence = body
            .mime_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !config.content_types.contains(&essence) {
            return Err(CallbackRejection::InvalidContentType {
                content_type: body.mime_type,
            }
            .into());
        }
    }

    // Record it, or find the record of the same upload. Only tokens with a
    // server-chosen key carry a name. With `${filename}` keys, including the
    // legacy policy's, the key's last segment is the name OSS received.
    let request_id = body.request_id.clone();
    let filename = match &ticket.filename {
        Some(name) => crate::ticket::truncate_filename(name).to_owned(),
        None => key_filename(&body.object).to_owned(),
    };
    let upload = NewUpload {
        bucket: body.bucket,
        object: body.object,
        size: body.size,
        etag: body.etag,
        mime_type: body.mime_type,
        image_width: body.image_width,
        image_height: body.image_height,
        image_format: body.image_format,
        crc64: body.crc64,
        user_id: ticket.user,
        token_id: ticket.token_id,
        client_ip: body.client_ip,
        oss_request_id: body.request_id,
        filename,
        created_at: now,
    };
    match state.db().record(&upload).await? {
        RecordOutcome::Inserted(row) => Ok((row, Recorded::Inserted)),
        RecordOutcome::Replayed(row) => Ok((row, Recorded::Replayed)),
        RecordOutcome::Conflict { existing_id } => Err(CallbackRejection::ReplayMismatch {
            request_id,
            existing_id,
        }
        .into()),
    }
}

/// Parses the form-encoded body the callback template produces.
fn parse_body(body: &[u8]) -> Result<CallbackBody, CallbackRejection> {
    let mut parsed = CallbackBody::default();
    let mut seen_size = false;
    for (name, value) in url::form_urlencoded::parse(body) {
        let value = value.into_owned();
        let optional = |value: String| Some(value).filter(|value| !value.is_empty());
        let dimension = |value: &str, field| {
            if value.is_empty() {
                Ok(None)
            } else {
                value
                    .parse::<u64>()
                    .map(Some)
                    .map_err(|_| CallbackRejection::MalformedBody(field))
            }
        };
        match name.as_ref() {
            "bucket" => parsed.bucket = value,
            "object" => parsed.object = value,
            "etag" => parsed.etag = value,
            "size" => {
                parsed.size = value
                    .parse()
                    .map_err(|_| CallbackRejection::MalformedBody("size"))?;
                seen_size = true;
            }
            "mimeType" => parsed.mime_type = value,
            "imageWidth" => parsed.image_width = dimension(&value, "imageWidth")?,
            "imageHeight" => parsed.image_height = dimension(&value, "imageHeight")?,
            "imageFormat" => parsed.image_format = optional(value),
            "crc64" => parsed.crc64 = optional(value),
            "clientIp" => parsed.client_ip = optional(value),
            "reqId" => parsed.request_id = value,
            "ticket" => parsed.ticket = value,
            _ => {}
        }
    }
    // An empty `reqId` is left to `resolve_request_id`, which can fall back
    // to the request's header.
    for (field, value) in [
        ("bucket", &parsed.bucket),
        ("object", &parsed.object),
        ("ticket", &parsed.ticket),
    ] {
        if value.is_empty() {
            return Err(CallbackRejection::MalformedBody(field));
        }
    }
    if !seen_size {
        return Err(CallbackRejection::MalformedBody("size"));
    }
    Ok(parsed)
}

/// Picks the OSS request id that identifies the upload: the body's `reqId`
/// when it is not empty, else the `x-oss-request-id` header.
///
/// The header is not signed, yet it is safe as a fallback because the request
/// id only decides which callbacks count as replays of one upload. The ticket,
/// the signature over the body, the object's scope and the user are still
/// checked, so a forged header can at most record the same authorised upload
/// twice. Reusing another upload's request id is rejected as a replay
/// mismatch, as it is for a body value.
///
/// # Errors
///
/// [`CallbackRejection::MalformedBody`] naming `reqId` when the body has no
/// `reqId` and the header is missing, empty, longer than
/// [`MAX_HEADER_REQUEST_ID_LENGTH`] or not visible ASCII.
fn resolve_request_id(
    body_value: &str,
    header: Option<&str>,
) -> Result<(String, RequestIdSource), CallbackRejection> {
    if !body_value.is_empty() {
        return Ok((body_value.to_owned(), RequestIdSource::Body));
    }
    let valid_header = header.filter(|value| {
        !value.is_empty()
            && value.len() <= MAX_HEADER_REQUEST_ID_LENGTH
            && value.bytes().all(|byte| byte.is_ascii_graphic())
    });
    match valid_header {
        Some(value) => Ok((value.to_owned(), RequestIdSource::Header)),
        None => Err(CallbackRejection::MalformedBody("reqId")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_parses_every_field() {
        let body = b"bucket=b&object=u%2Fdev%2Fa.png&etag=ABC&size=68&mimeType=image%2Fpng\
&imageWidth=1&imageHeight=2&imageFormat=png&crc64=42&clientIp=127.0.0.1&reqId=R1&ticket=T.M";
        let parsed = parse_body(body).unwrap();
        assert_eq!(parsed.object, "u/dev/a.png");
        assert_eq!(parsed.size, 68);
        assert_eq!(parsed.mime_type, "image/png");
        assert_eq!(parsed.image_width, Some(1));
        assert_eq!(parsed.image_height, Some(2));
        assert_eq!(parsed.image_format.as_deref(), Some("png"));
        assert_eq!(parsed.request_id, "R1");
        assert_eq!(parsed.ticket, "T.M");
    }

    #[test]
    fn body_with_empty_image_fields_is_not_an_image() {
        let body = b"bucket=b&object=o&etag=E&size=5&mimeType=text%2Fplain&imageWidth=&imageHeight=&imageFormat=&reqId=R1&ticket=T";
        let parsed = parse_body(body).unwrap();
        assert_eq!(parsed.image_width, None);
        assert_eq!(parsed.image_format, None);
    }

    #[test]
    fn body_without_required_fields_is_rejected() {
        assert_eq!(
            parse_body(b"bucket=b&object=o&size=1&reqId=R").unwrap_err(),
            CallbackRejection::MalformedBody("ticket")
        );
        assert_eq!(
            parse_body(b"bucket=b&object=o&reqId=R&ticket=t").unwrap_err(),
            CallbackRejection::MalformedBody("size")
        );
        assert_eq!(
            parse_body(b"bucket=b&object=o&size=-1&reqId=R&ticket=t").unwrap_err(),
            CallbackRejection::MalformedBody("size")
        );
    }

    #[test]
    fn body_without_request_id_parses() {
        let parsed = parse_body(b"bucket=b&object=o&size=1&reqId=&ticket=t").unwrap();
        assert_eq!(parsed.request_id, "");
        let parsed = parse_body(b"bucket=b&object=o&size=1&ticket=t").unwrap();
        assert_eq!(parsed.request_id, "");
    }

    #[test]
    fn request_id_prefers_body() {
        assert_eq!(
            resolve_request_id("BODY1", Some("HEADER1")).unwrap(),
            ("BODY1".to_owned(), RequestIdSource::Body)
        );
        assert_eq!(
            resolve_request_id("BODY1", None).unwrap(),
            ("BODY1".to_owned(), RequestIdSource::Body)
        );
    }

    #[test]
    fn request_id_falls_back_to_header() {
        assert_eq!(
            resolve_request_id("", Some("5C1F0000000000000000AB12")).unwrap(),
            (
                "5C1F0000000000000000AB12".to_owned(),
                RequestIdSource::Header
            )
        );
        let longest = "A".repeat(MAX_HEADER_REQUEST_ID_LENGTH);
        assert_eq!(
            resolve_request_id("", Some(&longest)).unwrap(),
            (longest.clone(), RequestIdSource::Header)
        );
    }

    #[test]
    fn warning_limiter_logs_first_then_once_per_interval() {
        let limiter = WarningLimiter::new(Duration::from_secs(60));
        let start = Instant::now();
        let at = |seconds| start + Duration::from_secs(seconds);

        assert_eq!(limiter.record(at(0)), Some(0), "first occurrence");
        assert_eq!(limiter.record(at(1)), None);
        assert_eq!(limiter.record(at(30)), None);
        assert_eq!(limiter.record(at(59)), None);
        assert_eq!(
            limiter.record(at(60)),
            Some(3),
            "due after one interval, with the three suppressed repeats"
        );
        assert_eq!(limiter.record(at(61)), None, "interval restarts at 60 s");
        assert_eq!(limiter.record(at(119)), None);
        assert_eq!(
            limiter.record(at(120)),
            Some(2),
            "count restarts after a log"
        );
        assert_eq!(
            limiter.record(at(1000)),
            Some(0),
            "a quiet gap logs the next one with no repeats"
        );
    }

    #[test]
    fn warning_limiter_suppresses_earlier_instant() {
        let limiter = WarningLimiter::new(Duration::from_secs(60));
        let later = Instant::now() + Duration::from_secs(100);
        assert_eq!(limiter.record(later), Some(0));
        // A callback on another thread may pass an instant taken before the
        // logged one, which is no reason to log again.
        assert_eq!(limiter.record(later - Duration::from_secs(5)), None);
        assert_eq!(limiter.record(later + Duration::from_secs(60)), Some(1));
    }

    #[test]
    fn request_id_without_valid_source_is_rejected() {
        let too_long = "A".repeat(MAX_HEADER_REQUEST_ID_LENGTH + 1);
        for header in [
            None,
            Some(""),
            Some(too_long.as_str()),
            Some("5C1F 0000"),
            Some("5C1F\t0000"),
            Some("5C1F\u{e9}0000"),
        ] {
            assert_eq!(
                resolve_request_id("", header).unwrap_err(),
                CallbackRejection::MalformedBody("reqId"),
                "header {header:?}"
            );
        }
    }
}
