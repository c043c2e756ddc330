//! PostObject: a browser form upload.
//!
//! The multipart body is parsed as a stream. Text fields are collected (with
//! OSS's limits: field names 8 KB and values 2 MB in total) until the `file`
//! part, which must come last. Then, before a byte of the file is read, the
//! form is authenticated and its policy checked ([`crate::auth`]), and the
//! object's attributes are worked out. The file streams to a temporary file
//! with the size range enforced on the way, the object is committed, and the
//! callback, if any, decides the response.
//!
//! When a request fails before its body was read to the end, the error
//! response is sent at once and the rest of the body is read and discarded in the
//! background, so the client sees the error instead of a reset connection.

use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use futures_util::TryStreamExt as _;
use ossgate_protocol::callback::{CallbackParam, CustomVars, RenderContext};
use ossgate_protocol::FormFields;

use crate::callback::{self, CallbackOutcome};
use crate::error::OssError;
use crate::hooks::PostRecord;
use crate::routes::RequestContext;
use crate::storage::{self, ObjectAcl, ObjectAttributes, ObjectMeta, MAX_OBJECT_SIZE};
use crate::xml::XmlWriter;
use crate::{auth, AppState};

/// The total size of all form field names OSS accepts: 8 KB.
pub const MAX_FIELD_NAME_BYTES: usize = 8 * 1024;
/// The total size of all form field values OSS accepts: 2 MB.
pub const MAX_FIELD_VALUE_BYTES: usize = 2 * 1024 * 1024;
/// The maximum number of fields before the file.
pub const MAX_FIELDS: usize = 1000;
/// The total size of `x-oss-meta-*` names and values OSS accepts: 8 KB.
pub const MAX_USER_META_BYTES: usize = 8 * 1024;
/// The largest request body: a 5 GiB file plus the largest form fields and
/// the multipart framing around them.
pub const MAX_BODY_BYTES: u64 = MAX_OBJECT_SIZE + 4 * 1024 * 1024;
/// After an early error, at most this much of the rest of the body is read and discarded.
pub const DRAIN_LIMIT_BYTES: u64 = MAX_BODY_BYTES;
/// After an early error, the rest of the body is read for at most this long.
pub const DRAIN_TIME_LIMIT: Duration = Duration::from_secs(30);
/// How much of a stored file is read to find an image header.
const IMAGE_HEADER_BYTES: usize = 512 * 1024;

/// Standard headers a form may set on the object, as OSS writes their names.
const STORED_HEADERS: [&str; 4] = [
    "Cache-Control",
    "Content-Disposition",
    "Content-Encoding",
    "Expires",
];

type Multipart = multer::Multipart<'static>;

/// Handles a PostObject request and records its outcome for the test hooks.
pub(crate) async fn handle(
    state: &AppState,
    context: &RequestContext,
    request: Request,
) -> Result<Response, OssError> {
    let mut progress = Progress::default();
    let result = receive(state, context, request, &mut progress).await;
    let Progress { key, access_key_id } = progress;

    let (status, code, message) = match &result {
        Ok(response) => (response.status().as_u16(), None, None),
        Err(error) => (
            error.status.as_u16(),
            Some(error.code.to_owned()),
            Some(error.message.clone()),
        ),
    };
    tracing::info!(
        request_id = %context.request_id,
        bucket = %context.bucket.name,
        key = key.as_deref().unwrap_or(""),
        access_key_id = access_key_id.as_deref().unwrap_or(""),
        status,
        code = code.as_deref().unwrap_or(""),
        "PostObject"
    );
    state.inner.recorder.record_post(PostRecord {
        request_id: context.request_id.clone(),
        bucket: context.bucket.name.clone(),
        key,
        access_key_id,
        status,
        code,
        message,
        time: context.now,
    });
    result
}

/// The key and AccessKeyId of a request as far as they are known, for the
/// log and the test hooks.
#[derive(Default)]
struct Progress {
    key: Option<String>,
    access_key_id: Option<String>,
}

/// Parses the request and, on an error before the body's end, starts
/// draining what is left of it.
async fn receive(
    state: &AppState,
    context: &RequestContext,
    request: Request,
    progress: &mut Progress,
) -> Result<Response, OssError> {
    let mut multipart = open_multipart(request)?;
    let mut finished = false;
    let result = process(state, context, &mut multipart, &mut finished, progress).await;
    if result.is_err() && !finished {
        tokio::spawn(drain(multipart));
        return result.map_err(OssError::closing);
    }
    result
}

/// Checks the request's content type and size and wraps its body in a
/// multipart parser.
fn open_multipart(request: Request) -> Result<Multipart, OssError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let is_multipart = content_type
        .split(';')
        .next()
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("multipart/form-data"));
    if !is_multipart {
        return Err(OssError::invalid_argument(
            "Bucket POST must be of the enclosure-type multipart/form-data.",
        )
        .closing());
    }
    let boundary =
        multer::parse_boundary(content_type).map_err(|_| OssError::malformed_post().closing())?;

    let declared_length = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared_length.is_some_and(|length| length > MAX_BODY_BYTES) {
        return Err(OssError::invalid_argument("Post body size must be less than 5G.").closing());
    }

    let stream = request
        .into_body()
        .into_data_stream()
        .map_err(std::io::Error::other);
    Ok(multer::Multipart::new(stream, boundary))
}

/// Reads and discards the rest of a request body, within limits, so that
/// hyper can deliver the error response before closing the connection.
async fn drain(mut multipart: Multipart) {
    let mut drained = 0u64;
    let read_all = async {
        while let Ok(Some(mut field)) = multipart.next_field().await {
            while let Ok(Some(chunk)) = field.chunk().await {
                drained += chunk.len() as u64;
                if drained > DRAIN_LIMIT_BYTES {
                    return;
                }
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME_LIMIT, read_all).await;
}

fn malformed(error: multer::Error) -> OssError {
    tracing::debug!(%error, "malformed multipart body");
    OssError::malformed_post()
}

/// The form fields before the file, and the file part itself.
struct ParsedForm {
    fields: FormFields,
    file: multer::Field<'static>,
}

/// Reads the text fields up to the `file` part.
async fn read_fields(
    multipart: &mut Multipart,
    finished: &mut bool,
) -> Result<ParsedForm, OssError> {
    let mut fields = FormFields::new();
    let mut name_bytes = 0usize;
    let mut value_bytes = 0usize;

    loop {
        let Some(mut part) = multipart.next_field().await.map_err(malformed)? else {
            *finished = true;
            return Err(if non_empty_key(&fields) {
                OssError::new(
                    StatusCode::BAD_REQUEST,
                    "IncorrectNumberOfFilesInPOSTRequest",
                    "POST requires exactly one file upload per request.",
                )
            } else {
                missing_key()
            });
        };
        let name = part.name().unwrap_or_default().to_owned();
        if name.is_empty() {
            return Err(OssError::malformed_post());
        }

        name_bytes += name.len();
        if name_bytes > MAX_FIELD_NAME_BYTES {
            return Err(OssError::new(
                StatusCode::BAD_REQUEST,
                "FieldItemTooLong",
                "The form field names exceed 8 KB in total.",
            ));
        }
        if fields.len() >= MAX_FIELDS {
            return Err(OssError::new(
                StatusCode::BAD_REQUEST,
                "FieldItemTooLong",
                format!("The form has more than {MAX_FIELDS} fields."),
            ));
        }

        if name.eq_ignore_ascii_case("file") {
            if !non_empty_key(&fields) {
                return Err(missing_key());
            }
            return Ok(ParsedForm { fields, file: part });
        }

        let mut value = Vec::new();
        while let Some(chunk) = part.chunk().await.map_err(malformed)? {
            value_bytes += chunk.len();
            if value_bytes > MAX_FIELD_VALUE_BYTES {
                return Err(OssError::new(
                    StatusCode::BAD_REQUEST,
                    "FieldItemTooLong",
                    "The form field values exceed 2 MB in total.",
                ));
            }
            value.extend_from_slice(&chunk);
        }
        let value = String::from_utf8(value).map_err(|_| {
            OssError::invalid_argument(format!(
                "The value of form field {name:?} is not valid UTF-8."
            ))
        })?;
        fields.push(name, value);
    }
}

fn non_empty_key(fields: &FormFields) -> bool {
    fields.get("key").is_some_and(|key| !key.is_empty())
}

fn missing_key() -> OssError {
    OssError::invalid_argument(
        "The bucket POST must contain the specified 'key'. If it is specified, please check the order of the fields",
    )
}

/// `success_action_status` and `success_action_redirect`.
enum SuccessAction {
    Status(StatusCode),
    Redirect(String),
}

/// Everything decided from the fields before the file is read.
struct UploadPlan {
    key: String,
    attributes: ObjectAttributes,
    forbid_overwrite: bool,
    success: SuccessAction,
    callback: Option<CallbackParam>,
    vars: CustomVars,
    /// The MD5 from a `Content-MD5` field, checked against the file.
    content_md5: Option<Vec<u8>>,
    min_size: u64,
    max_size: u64,
}

fn invalid_digest() -> OssError {
    OssError::new(
        StatusCode::BAD_REQUEST,
        "InvalidDigest",
        "The Content-MD5 you specified is not valid.",
    )
}

/// Works out the object's key and attributes from the form, the file part and
/// the policy's size range.
fn plan_upload(
    fields: &FormFields,
    file_name: Option<&str>,
    file_type: Option<String>,
    size_range: Option<(u64, u64)>,
) -> Result<UploadPlan, OssError> {
    let field = |name: &str| fields.get(name).filter(|value| !value.is_empty());

    // `${filename}` is expanded after the policy check, which saw the key as sent.
    let key = fields
        .get("key")
        .unwrap_or_default()
        .replace("${filename}", file_name.unwrap_or_default());
    storage::validate_key(&key).map_err(OssError::invalid_object_name)?;

    // Content-Type precedence: x-oss-content-type, the form's Content-Type,
    // the file part's type, then a guess from the key.
    let content_type = field("x-oss-content-type")
        .or_else(|| field("Content-Type"))
        .map(str::to_owned)
        .or(file_type)
        .unwrap_or_else(|| {
            mime_guess::from_path(&key)
                .first_or_octet_stream()
                .essence_str()
                .to_owned()
        });

    let acl = match field("x-oss-object-acl") {
        None => ObjectAcl::Default,
        Some(value) => ObjectAcl::parse(value)
            .ok_or_else(|| OssError::invalid_argument("no such object access control exists"))?,
    };
    let storage_class = match field("x-oss-storage-class") {
        None => "Standard".to_owned(),
        Some(value) => match value {
            "Standard" | "IA" | "Archive" | "ColdArchive" | "DeepColdArchive" => value.to_owned(),
            _ => {
                return Err(OssError::invalid_argument(format!(
                    "Invalid x-oss-storage-class {value:?}: use Standard, IA, Archive, ColdArchive or DeepColdArchive."
                )))
            }
        },
    };

    let mut headers = Vec::new();
    for name in STORED_HEADERS {
        if let Some(value) = field(name) {
            check_header_value(name, value)?;
            headers.push((name.to_owned(), value.to_owned()));
        }
    }
    if let Some(value) = field("x-oss-server-side-encryption") {
        if !["AES256", "KMS", "SM4"].contains(&value) {
            return Err(OssError::invalid_argument(format!(
                "Invalid x-oss-server-side-encryption {value:?}: use AES256, KMS or SM4."
            )));
        }
        headers.push(("x-oss-server-side-encryption".to_owned(), value.to_owned()));
    }

    let mut user_meta = Vec::new();
    let mut meta_bytes = 0;
    for (name, value) in fields.iter() {
        if name.len() > "x-oss-meta-".len() && name[..11].eq_ignore_ascii_case("x-oss-meta-") {
            check_header_value(name, value)?;
            meta_bytes += name.len() + value.len();
            user_meta.push((name.to_ascii_lowercase(), value.to_owned()));
        }
    }
    if meta_bytes > MAX_USER_META_BYTES {
        return Err(OssError::new(
            StatusCode::BAD_REQUEST,
            "MetadataTooLarge",
            "Your metadata headers exceed the maximum allowed metadata size.",
        ));
    }

    let forbid_overwrite =
        field("x-oss-forbid-overwrite").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let success = match field("success_action_redirect") {
        Some(url) => SuccessAction::Redirect(url.to_owned()),
        None => SuccessAction::Status(match field("success_action_status") {
            Some("200") => StatusCode::OK,
            Some("201") => StatusCode::CREATED,
            _ => StatusCode::NO_CONTENT,
        }),
    };

    let callback = field("callback")
        .map(CallbackParam::from_base64)
        .transpose()
        .map_err(|error| OssError::invalid_argument(error.to_string()))?;
    let mut vars = CustomVars::new();
    for (name, value) in fields.iter() {
        if name.len() > 2 && name[..2].eq_ignore_ascii_case("x:") {
            vars.insert(name, value)
                .map_err(|error| OssError::invalid_argument(error.to_string()))?;
        }
    }

    let content_md5 = match field("Content-MD5") {
        None => None,
        Some(value) => {
            let digest = base64::engine::general_purpose::STANDARD
                .decode(value)
                .ok()
                .filter(|digest| digest.len() == 16)
                .ok_or_else(invalid_digest)?;
            Some(digest)
        }
    };

    let (min_size, max_size) = match size_range {
        Some((min, max)) => (min, max.min(MAX_OBJECT_SIZE)),
        None => (0, MAX_OBJECT_SIZE),
    };

    Ok(UploadPlan {
        key,
        attributes: ObjectAttributes {
            content_type,
            acl,
            storage_class,
            headers,
            user_meta,
        },
        forbid_overwrite,
        success,
        callback,
        vars,
        content_md5,
        min_size,
        max_size,
    })
}

/// A stored header must be a valid HTTP header value to be served back.
fn check_header_value(name: &str, value: &str) -> Result<(), OssError> {
    HeaderValue::from_str(value).map(|_| ()).map_err(|_| {
        OssError::invalid_argument(format!(
            "The value of form field {name:?} is not a valid header value."
        ))
    })
}

async fn process(
    state: &AppState,
    context: &RequestContext,
    multipart: &mut Multipart,
    finished: &mut bool,
    progress: &mut Progress,
) -> Result<Response, OssError> {
    let inner = &state.inner;

    // Step 1: the fields before the file.
    let ParsedForm { fields, mut file } = read_fields(multipart, finished).await?;
    progress.key = fields.get("key").map(str::to_owned);

    // Step 2: signature, policy, expiration, conditions.
    let grant = auth::check_form(&inner.config, &context.bucket, &fields, context.now)?;
    progress.access_key_id = grant.access_key_id;

    // Step 3: the object's key and attributes.
    let plan = plan_upload(
        &fields,
        file.file_name(),
        file.content_type().map(|mime| mime.to_string()),
        grant.size_range,
    )?;
    progress.key = Some(plan.key.clone());
    if plan.forbid_overwrite
        && inner
            .storage
            .head(&context.bucket.name, &plan.key)
            .await?
            .is_some()
    {
        return Err(OssError::file_already_exists());
    }

    // Step 4: the file, with the size range enforced while it streams.
    let mut writer = inner
        .storage
        .begin_upload(
            &context.bucket.name,
            inner.recorder.faults().fail_storage_writes,
        )
        .await?;
    let mut size = 0u64;
    while let Some(chunk) = file.chunk().await.map_err(malformed)? {
        size += chunk.len() as u64;
        if size > plan.max_size {
            writer.abort().await;
            return Err(OssError::entity_too_large());
        }
        writer.write(chunk).await?;
    }
    drop(file);
    let written = writer.finish().await?;
    if size < plan.min_size {
        *finished = multipart
            .next_field()
            .await
            .map_or(true, |next| next.is_none());
        return Err(OssError::entity_too_small());
    }

    if plan
        .content_md5
        .as_ref()
        .is_some_and(|expected| expected.as_slice() != written.md5)
    {
        *finished = multipart
            .next_field()
            .await
            .map_or(true, |next| next.is_none());
        return Err(invalid_digest());
    }

    // Step 5: nothing may follow the file.
    match multipart.next_field().await {
        Ok(None) => *finished = true,
        Ok(Some(next)) => {
            let name = next.name().unwrap_or_default().to_owned();
            return Err(OssError::invalid_argument(format!(
                "The file must be the last field of the form, but field {name:?} follows it."
            )));
        }
        Err(error) => return Err(malformed(error)),
    }

    // Step 6: make the object visible.
    let meta = inner
        .storage
        .commit(
            &context.bucket.name,
            &plan.key,
            written,
            plan.attributes,
            plan.forbid_overwrite,
            context.now,
        )
        .await?;

    // Step 7: the callback, or the response the form asked for.
    match &plan.callback {
        Some(param) => {
            let render = render_context(state, context, &meta, plan.vars).await;
            let outcome = callback::run(state, param, &render).await;
            Ok(callback_response(context, &meta, outcome))
        }
        None => Ok(success_response(context, &meta, &plan.success)),
    }
}

/// The values for the callback body.
async fn render_context(
    state: &AppState,
    context: &RequestContext,
    meta: &ObjectMeta,
    vars: CustomVars,
) -> RenderContext {
    let image = match state
        .inner
        .storage
        .open_object(&context.bucket.name, &meta.key, 0)
        .await
    {
        Ok(Some((_, file))) => {
            let mut file = file.into_std().await;
            tokio::task::spawn_blocking(move || storage::read_prefix(&mut file, IMAGE_HEADER_BYTES))
                .await
                .ok()
                .and_then(Result::ok)
                .and_then(|header| callback::image_info(&header))
        }
        _ => None,
    };
    RenderContext {
        bucket: context.bucket.name.clone(),
        object: meta.key.clone(),
        etag: meta.etag.clone(),
        size: meta.size,
        mime_type: meta.content_type.clone(),
        image,
        crc64: meta.crc64.to_string(),
        content_md5: meta.content_md5(),
        client_ip: context.client_ip.clone(),
        req_id: context.request_id.clone(),
        operation: "PostObject".to_owned(),
        vars,
    }
}

/// Adds `ETag`, `x-oss-hash-crc64ecma` and `Content-MD5` of a stored object.
fn add_object_headers(response: &mut Response, meta: &ObjectMeta) {
    let headers = response.headers_mut();
    let pairs = [
        (header::ETAG.as_str(), meta.quoted_etag()),
        ("x-oss-hash-crc64ecma", meta.crc64.to_string()),
        ("content-md5", meta.content_md5()),
    ];
    for (name, value) in pairs {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            headers.insert(name, value);
        }
    }
}

fn success_response(
    context: &RequestContext,
    meta: &ObjectMeta,
    action: &SuccessAction,
) -> Response {
    let mut response = match action {
        SuccessAction::Status(StatusCode::CREATED) => {
            let location = format!("{}/{}", context.bucket_url, encode_key(&meta.key));
            let mut xml = XmlWriter::new();
            xml.open("PostResponse");
            xml.element("Bucket", &context.bucket.name);
            xml.element("Location", &location);
            xml.element("Key", &meta.key);
            xml.element("ETag", &meta.quoted_etag());
            xml.close("PostResponse");
            let mut response = Response::new(Body::from(xml.finish()));
            *response.status_mut() = StatusCode::CREATED;
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml"),
            );
            response
        }
        SuccessAction::Status(status) => {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = *status;
            response
        }
        SuccessAction::Redirect(url) => {
            let separator = if url.contains('?') { '&' } else { '?' };
            let query: String = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("bucket", &context.bucket.name)
                .append_pair("key", &meta.key)
                .append_pair("etag", &meta.quoted_etag())
                .finish();
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::SEE_OTHER;
            if let Ok(location) = HeaderValue::from_str(&format!("{url}{separator}{query}")) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            response
        }
    };
    add_object_headers(&mut response, meta);
    response
}

fn callback_response(
    context: &RequestContext,
    meta: &ObjectMeta,
    outcome: CallbackOutcome,
) -> Response {
    let mut response = match outcome {
        CallbackOutcome::Succeeded { body } => {
            let mut response = Response::new(Body::from(body));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        CallbackOutcome::Failed { message } => {
            let error = OssError::new(
                StatusCode::NON_AUTHORITATIVE_INFORMATION,
                "CallbackFailed",
                message,
            );
            error.into_response(&context.request_id, &context.host_id, false)
        }
    };
    add_object_headers(&mut response, meta);
    response
}

/// Percent-encodes a key for a URL path, keeping `/`.
pub(crate) fn encode_key(key: &str) -> String {
    const PATH: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b'/');
    percent_encoding::utf8_percent_encode(key, PATH).to_string()
}
