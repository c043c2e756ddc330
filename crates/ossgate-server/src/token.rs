//! Upload tokens: signed PostObject forms for one user and one upload.
//!
//! A token is stateless. Its policy carries a UTC expiration, the bucket, the
//! key condition (the exact key the server chose, or the user's directory as a
//! prefix), `content-length-range` (up to the declared size when the browser
//! gave one), the object ACL and overwrite settings, the allowed content
//! types, the `success_action_status` of 200 and the exact `callback` value.
//! The type list binds both `Content-Type` and `x-oss-content-type`, because
//! OSS stores the latter when a form has both. The callback body template
//! carries OSS's system variables and a sealed ticket (see
//! [`crate::ticket`]), so the callback handler learns what the token allowed
//! without any stored state.
//!
//! The callback body is form-encoded (OSS's default): `bucket`, `object`,
//! `etag`, `size`, `mimeType`, `imageWidth`, `imageHeight`, `imageFormat`,
//! `crc64`, `clientIp`, `reqId` and `ticket`.
//!
//! With the unique key strategy the ticket also carries the declared
//! `filename`, cut to [`crate::ticket::MAX_TICKET_FILENAME_LEN`] bytes, so the
//! record can show the name the server-chosen key lacks. With `${filename}`
//! keys the key already has the name OSS received, so the ticket has none.

use std::fmt::Write as _;

use chrono::{DateTime, Datelike, Utc};
use ossgate_protocol::form::FormSigner;
use ossgate_protocol::policy::write_json_string;
use ossgate_protocol::{
    CallbackBodyType, CallbackParam, Condition, FormFields, Policy, SignatureVersion,
};
use serde::Serialize;

use crate::config::{version_name, KeyStrategy, ServerConfig};
use crate::error::ApiError;
use crate::ticket::{Ticket, TicketKey, TicketScope};

/// The initial capacity of a token's JSON: a V4 token is about 3 KB, and
/// growing a small buffer to that size costs several copies per request.
const TOKEN_JSON_CAPACITY: usize = 4096;

/// Maximum length of the `filename` in a token request, in bytes.
const MAX_FILENAME_LEN: usize = 1024;

/// Maximum length of the file extension kept in a server-chosen key.
const MAX_EXTENSION_LEN: usize = 16;

/// Maximum length of a declared content type, in bytes. Real media types
/// are far shorter, and the value ends up in the object's metadata.
const MAX_CONTENT_TYPE_LEN: usize = 256;

/// The form a declared content type must have, as error messages state it.
const MEDIA_TYPE_FORM: &str = "a media type of the form type/subtype with optional \
     \"; name=value\" parameters, in printable ASCII, at most 256 bytes";

/// The browser's declaration about the file it is about to upload.
#[derive(Clone, Debug, Default)]
pub struct TokenRequest {
    pub filename: Option<String>,
    pub size: Option<u64>,
    pub content_type: Option<String>,
}

/// The response body of `GET /api/upload-token`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadToken {
    /// The URL the browser POSTs the form to.
    pub url: String,
    pub method: &'static str,
    /// Every form field but the file, in the order to send them.
    pub fields: FormFields,
    /// The object key, when the server chose it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub dir: String,
    /// When the policy expires, in Unix seconds.
    pub expire: i64,
    pub max_size: u64,
    pub content_types: Vec<String>,
    pub signature_version: &'static str,
    /// The id the callback record will carry.
    #[serde(skip)]
    pub token_id: String,
}

impl UploadToken {
    /// Serialises the token as compact JSON: the bytes its `Serialize` impl
    /// gives with serde_json, written by hand because serde_json's string
    /// escaping was about 6% of the server's CPU under the token load.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(TOKEN_JSON_CAPACITY);
        out.push_str("{\"url\":");
        write_json_string(&mut out, &self.url);
        out.push_str(",\"method\":");
        write_json_string(&mut out, self.method);

        out.push_str(",\"fields\":{");
        for (index, (name, value)) in self.fields.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            write_json_string(&mut out, name);
            out.push(':');
            write_json_string(&mut out, value);
        }
        out.push('}');

        if let Some(key) = &self.key {
            out.push_str(",\"key\":");
            write_json_string(&mut out, key);
        }
        out.push_str(",\"dir\":");
        write_json_string(&mut out, &self.dir);
        let _ = write!(
            out,
            ",\"expire\":{},\"maxSize\":{},\"contentTypes\":[",
            self.expire, self.max_size
        );
        for (index, content_type) in self.content_types.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            write_json_string(&mut out, content_type);
        }
        out.push_str("],\"signatureVersion\":");
        write_json_string(&mut out, self.signature_version);
        out.push('}');
        out
    }
}

/// The response body of `GET /api/policy`: the shape of Alibaba's sample app server,
/// with a V1 signature, for the official plupload client.
#[derive(Clone, Debug, Serialize)]
pub struct LegacyPolicy {
    pub accessid: String,
    pub host: String,
    pub expire: i64,
    pub signature: String,
    pub policy: String,
    pub dir: String,
    pub callback: String,
}

/// Issues tokens for one bucket and one set of credentials.
#[derive(Debug)]
pub struct TokenIssuer {
    bucket: String,
    bucket_url: String,
    upload_dir: String,
    max_size: u64,
    content_types: Vec<String>,
    key_strategy: KeyStrategy,
    lifetime_secs: i64,
    callback_url: String,
    callback_host: Option<String>,
    callback_sni: Option<bool>,
    signer: FormSigner,
    /// A V1 signer for `/api/policy`, whatever version the tokens use.
    legacy_signer: FormSigner,
    ticket_key: TicketKey,
}

/// The limits of one token's policy beyond the key.
struct Limits {
    /// The largest file the policy accepts, in bytes.
    max_size: u64,
    /// Whether `Content-Type` and `x-oss-content-type` must be in the type list.
    restrict_types: bool,
    /// Whether the form carries the [`object_settings`] fields and the
    /// policy pins them.
    pin_object_settings: bool,
}

/// Returns the object settings a token's form carries and its policy pins,
/// so the browser cannot add its own. `x-oss-object-acl` is `default`: the
/// object keeps the bucket's ACL and is never public in a private bucket.
/// For a key the server chose, `x-oss-forbid-overwrite` is `true`, so the
/// token cannot be reused to replace the object it uploaded.
///
/// Other object settings a browser could add (`x-oss-storage-class`,
/// `x-oss-server-side-encryption`, `Cache-Control`, `Content-Disposition`,
/// `x-oss-meta-*`) change only the uploader's own object and are not pinned.
// NOTE: The emulator enforces these conditions. Whether real OSS evaluates
// policy conditions on these two fields, which its policy documentation
// does not list, is unverified. The `x-oss-content-type` condition is in the
// same position. A RAM policy without `oss:PutObjectAcl` also stops the ACL.
fn object_settings(server_chose_key: bool) -> &'static [(&'static str, &'static str)] {
    const ACL: (&str, &str) = ("x-oss-object-acl", "default");
    const FORBID_OVERWRITE: (&str, &str) = ("x-oss-forbid-overwrite", "true");
    if server_chose_key {
        &[ACL, FORBID_OVERWRITE]
    } else {
        &[ACL]
    }
}

/// One token's policy and callback, before signing.
struct Draft {
    dir: String,
    key: Option<String>,
    token_id: String,
    expiration: DateTime<Utc>,
    callback: String,
    policy: Policy,
}

impl TokenIssuer {
    pub fn new(config: &ServerConfig) -> Self {
        let lifetime_secs = i64::try_from(config.token_lifetime.as_secs()).unwrap_or(i64::MAX);
        Self {
            bucket: config.bucket.clone(),
            bucket_url: config.bucket_url.clone(),
            upload_dir: config.upload_dir.clone(),
            max_size: config.max_size,
            content_types: config.content_types.clone(),
            key_strategy: config.key_strategy,
            lifetime_secs,
            callback_url: config.callback_url.clone(),
            callback_host: config.callback_host.clone(),
            callback_sni: config.callback_sni,
            signer: FormSigner::new(
                config.credentials.clone(),
                config.signature_version,
                &config.region,
            ),
            legacy_signer: FormSigner::new(
                config.credentials.clone(),
                SignatureVersion::V1,
                &config.region,
            ),
            ticket_key: TicketKey::new(&config.ticket_secret),
        }
    }

    /// Returns the key that tickets are sealed with.
    pub fn ticket_key(&self) -> &TicketKey {
        &self.ticket_key
    }

    /// Issues a token for `user` at `now`.
    ///
    /// # Errors
    ///
    /// A declared size outside the limit, a declared content type that is
    /// malformed or not in the list, or an unusable filename. Nothing is
    /// signed then.
    pub fn issue(
        &self,
        user: &str,
        request: &TokenRequest,
        now: DateTime<Utc>,
    ) -> Result<UploadToken, ApiError> {
        // Check what the browser declared before anything is signed.
        if let Some(size) = request.size {
            if size > self.max_size {
                return Err(ApiError::EntityTooLarge {
                    size,
                    max: self.max_size,
                });
            }
        }
        let content_type = self.check_content_type(request.content_type.as_deref())?;
        if let Some(filename) = &request.filename {
            let unusable = |c: char| c.is_control() || is_bidi_control(c);
            if filename.len() > MAX_FILENAME_LEN || filename.chars().any(unusable) {
                return Err(ApiError::InvalidArgument {
                    name: "filename",
                    reason: format!(
                        "give the file's name without control characters or bidirectional \
                         text controls (U+202E and the like), at most {MAX_FILENAME_LEN} bytes"
                    ),
                });
            }
        }

        // Choose the key condition and build the policy.
        let dir = render_dir(&self.upload_dir, user, now);
        let (key, ticket_filename) = match self.key_strategy {
            KeyStrategy::Unique => (
                Some(unique_key(&dir, request.filename.as_deref())),
                request.filename.as_deref(),
            ),
            KeyStrategy::Filename => (None, None),
        };
        let restrict_types = !self.content_types.is_empty();
        let limits = Limits {
            max_size: request.size.unwrap_or(self.max_size),
            restrict_types,
            pin_object_settings: true,
        };
        let server_chose_key = key.is_some();
        let draft = self.draft(user, dir, key, ticket_filename, now, &limits);

        // The fields the page sends before the signed ones, then the signed ones.
        let mut fields = FormFields::new();
        let key_field = match &draft.key {
            Some(key) => key.clone(),
            None => format!("{}${{filename}}", draft.dir),
        };
        fields.push("key", key_field);
        if let Some(content_type) = content_type {
            // OSS stores `x-oss-content-type` over the form's `Content-Type`,
            // so with a type list both carry the declared type and the
            // policy limits both to the list.
            fields.push("Content-Type", content_type.clone());
            if restrict_types {
                fields.push("x-oss-content-type", content_type);
            }
        }
        for (name, value) in object_settings(server_chose_key) {
            fields.push(*name, *value);
        }
        fields.push("success_action_status", "200");
        fields.push("callback", draft.callback.clone());
        let signed = self.signer.sign(draft.policy, now);
        for (name, value) in signed.fields.iter() {
            fields.push(name, value);
        }

        Ok(UploadToken {
            url: self.bucket_url.clone(),
            method: "POST",
            fields,
            key: draft.key,
            dir: draft.dir,
            expire: draft.expiration.timestamp(),
            max_size: limits.max_size,
            content_types: self.content_types.clone(),
            signature_version: version_name(self.signer.version()),
            token_id: draft.token_id,
        })
    }

    /// Issues a token in the legacy shape: the user's directory as a key
    /// prefix, a V1 signature, and no content-type condition, because the
    /// official client sends no `Content-Type` field. The content type is
    /// still checked when the callback arrives.
    pub fn issue_legacy(&self, user: &str, now: DateTime<Utc>) -> LegacyPolicy {
        let dir = render_dir(&self.upload_dir, user, now);
        let limits = Limits {
            max_size: self.max_size,
            restrict_types: false,
            pin_object_settings: false,
        };
        let draft = self.draft(user, dir, None, None, now, &limits);
        let signed = self.legacy_signer.sign(draft.policy, now);
        LegacyPolicy {
            accessid: self.legacy_signer.access_key_id().to_owned(),
            host: self.bucket_url.clone(),
            expire: draft.expiration.timestamp(),
            signature: signed
                .fields
                .get("Signature")
                .unwrap_or_default()
                .to_owned(),
            policy: signed.policy_base64,
            dir: draft.dir,
            callback: draft.callback,
        }
    }

    fn draft(
        &self,
        user: &str,
        dir: String,
        key: Option<String>,
        filename: Option<&str>,
        now: DateTime<Utc>,
        limits: &Limits,
    ) -> Draft {
        let token_id = random_id();
        let expiration =
            DateTime::from_timestamp(now.timestamp() + self.lifetime_secs, 0).unwrap_or(now);

        // The ticket binds the user, the scope, the expiry, the token id and
        // the file's name when there is one.
        let scope = match &key {
            Some(key) => TicketScope::Key(key.clone()),
            None => TicketScope::Dir(dir.clone()),
        };
        let ticket = self.ticket_key.seal(&Ticket {
            user: user.to_owned(),
            scope,
            expires: expiration.timestamp(),
            token_id: token_id.clone(),
            // `seal` cuts a long name to the ticket limit.
            filename: filename.map(str::to_owned),
        });
        let callback = CallbackParam {
            urls: vec![self.callback_url.clone()],
            host: self.callback_host.clone(),
            body: callback_body_template(&ticket),
            body_type: Some(CallbackBodyType::Form),
            sni: self.callback_sni,
        }
        .to_base64();

        let key_condition = match &key {
            Some(key) => Condition::Eq {
                field: "key".to_owned(),
                value: key.clone(),
            },
            None => Condition::StartsWith {
                field: "key".to_owned(),
                prefix: dir.clone(),
            },
        };
        let mut policy = Policy::new(expiration)
            .with(Condition::Exact {
                field: "bucket".to_owned(),
                value: self.bucket.clone(),
            })
            .with(key_condition)
            .with(Condition::ContentLengthRange {
                min: 0,
                max: limits.max_size,
            });
        if limits.restrict_types {
            // Without the second condition a browser could add its own
            // `x-oss-content-type` field and store any type.
            for field in ["content-type", "x-oss-content-type"] {
                policy = policy.with(Condition::In {
                    field: field.to_owned(),
                    values: self.content_types.clone(),
                });
            }
        }
        if limits.pin_object_settings {
            for (field, value) in object_settings(key.is_some()) {
                policy = policy.with(Condition::Exact {
                    field: (*field).to_owned(),
                    value: (*value).to_owned(),
                });
            }
        }
        let policy = policy
            .with(Condition::Exact {
                field: "success_action_status".to_owned(),
                value: "200".to_owned(),
            })
            .with(Condition::Exact {
                field: "callback".to_owned(),
                value: callback.clone(),
            });

        Draft {
            dir,
            key,
            token_id,
            expiration,
            callback,
            policy,
        }
    }

    /// Checks that the declared content type is a media type and, with a
    /// type list, one of the list. Returns its essence (`type/subtype`,
    /// lowercased), which the form carries without parameters.
    fn check_content_type(&self, declared: Option<&str>) -> Result<Option<String>, ApiError> {
        let declared = declared.filter(|value| !value.is_empty());
        let essence = match declared {
            Some(value) => match media_type_essence(value) {
                Ok(essence) => Some(essence),
                Err(reason) => return Err(self.invalid_media_type(value, reason)),
            },
            None => None,
        };
        if self.content_types.is_empty() {
            return Ok(essence);
        }
        match essence {
            Some(value) if self.content_types.contains(&value) => Ok(Some(value)),
            Some(value) => Err(ApiError::InvalidContentType {
                content_type: value,
                allowed: self.content_types.join(", "),
            }),
            None => Err(ApiError::InvalidContentType {
                content_type: String::new(),
                allowed: self.content_types.join(", "),
            }),
        }
    }

    /// Builds the error for a declared value that is no media type: the
    /// value (cut to the length limit), why it is invalid, and what to send.
    fn invalid_media_type(&self, value: &str, reason: &str) -> ApiError {
        let mut shown: String = value.chars().take(MAX_CONTENT_TYPE_LEN).collect();
        if shown.len() < value.len() {
            shown.push('…');
        }
        let expected = if self.content_types.is_empty() {
            MEDIA_TYPE_FORM.to_owned()
        } else {
            self.content_types.join(", ")
        };
        ApiError::InvalidContentType {
            content_type: shown,
            allowed: format!("{expected} (the declared value {reason})"),
        }
    }
}

/// Tells whether `c` is a Unicode bidirectional text control (the marks,
/// embeddings, overrides and isolates of UAX #9). In a file name they can
/// make `abc\u{202E}txt.exe` display as `abcexe.txt`.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// Parses `value` as an RFC 7231 media type,
/// `type "/" subtype *( OWS ";" OWS token "=" ( token / quoted-string ) )`,
/// and returns its essence lowercased, or why it is not one.
///
/// Stricter than the RFC in two ways, because the value becomes an object's
/// `Content-Type`: it must be printable ASCII (no tab, no obs-text in quoted
/// strings) and at most [`MAX_CONTENT_TYPE_LEN`] bytes.
fn media_type_essence(value: &str) -> Result<String, &'static str> {
    if value.len() > MAX_CONTENT_TYPE_LEN {
        return Err("is longer than 256 bytes");
    }
    if value.bytes().any(|byte| byte.is_ascii_control()) {
        return Err("contains a control character");
    }
    if !value.is_ascii() {
        return Err("contains a non-ASCII character");
    }

    // The essence: two tokens around a slash, with optional spaces around it all.
    let value = value.trim_matches(' ');
    let (essence, mut parameters) = match value.find(';') {
        Some(index) => value.split_at(index),
        None => (value, ""),
    };
    let essence = essence.trim_end_matches(' ');
    let Some((kind, subtype)) = essence.split_once('/') else {
        return Err("is not of the form type/subtype");
    };
    if !is_token(kind) || !is_token(subtype) {
        return Err("is not of the form type/subtype");
    }

    // Each parameter: `;`, optional spaces, `name=value`, optional spaces.
    while let Some(rest) = parameters.strip_prefix(';') {
        let rest = rest.trim_start_matches(' ');
        let Some((name, rest)) = rest.split_once('=') else {
            return Err("has a parameter without \"=\"");
        };
        if !is_token(name) {
            return Err("has an invalid parameter name");
        }
        let rest = match rest.strip_prefix('"') {
            Some(quoted) => {
                skip_quoted_string(quoted).ok_or("has an unterminated quoted string")?
            }
            None => {
                let end = rest.find([' ', ';']).unwrap_or(rest.len());
                if !is_token(&rest[..end]) {
                    return Err("has an invalid parameter value");
                }
                &rest[end..]
            }
        };
        parameters = rest.trim_start_matches(' ');
    }
    if !parameters.is_empty() {
        return Err("has text after its parameters");
    }

    Ok(essence.to_ascii_lowercase())
}

/// Tells whether `text` is an RFC 7230 token: one or more `tchar`s.
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte))
}

/// Skips a quoted string's contents after its opening quote and returns the
/// text after its closing quote, or `None` when it is not closed.
fn skip_quoted_string(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'"' => return Some(&text[index + 1..]),
            // A quoted pair: a backslash and any printable character or space.
            b'\\' => index += 2,
            _ => index += 1,
        }
    }
    None
}

/// Returns 128 random bits as 32 lowercase hex digits, from the thread-local
/// CSPRNG (no system call per id).
pub fn random_id() -> String {
    String::from_utf8(random_id_bytes().to_vec()).expect("hex digits are ASCII")
}

/// Returns 128 random bits as 32 lowercase hex digits in a byte array. A token
/// request makes three ids, and this avoids the formatting machinery and the
/// text checks that `format!` and `HeaderValue::from_str` would add.
pub fn random_id_bytes() -> [u8; 32] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";

    let bits = rand::random::<u128>();
    let mut text = [0u8; 32];
    for (index, digit) in text.iter_mut().enumerate() {
        let shift = 4 * (31 - index);
        *digit = DIGITS[((bits >> shift) & 0xf) as usize];
    }
    text
}

/// The callback body template: OSS's system variables and the ticket literal.
pub fn callback_body_template(ticket: &str) -> String {
    format!(
        "bucket=${{bucket}}&object=${{object}}&etag=${{etag}}&size=${{size}}\
         &mimeType=${{mimeType}}&imageWidth=${{imageInfo.width}}\
         &imageHeight=${{imageInfo.height}}&imageFormat=${{imageInfo.format}}\
         &crc64=${{crc64}}&clientIp=${{clientIp}}&reqId=${{reqId}}&ticket={ticket}"
    )
}

/// Fills the directory template for `user` on `now`'s UTC date, in one pass
/// over the template (this runs for every token).
pub fn render_dir(template: &str, user: &str, now: DateTime<Utc>) -> String {
    let mut dir = String::with_capacity(template.len() + user.len() + 8);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        dir.push_str(&rest[..start]);
        let Some(length) = rest[start..].find('}') else {
            break;
        };
        let placeholder = &rest[start + 1..start + length];
        let _ = match placeholder {
            "user" => dir.write_str(user),
            "date" => write!(dir, "{:04}-{:02}-{:02}", now.year(), now.month(), now.day()),
            "year" => write!(dir, "{:04}", now.year()),
            "month" => write!(dir, "{:02}", now.month()),
            "day" => write!(dir, "{:02}", now.day()),
            // The settings reject other placeholders; keep one as written.
            _ => dir.write_str(&rest[start..=start + length]),
        };
        rest = &rest[start + length + 1..];
    }
    dir.push_str(rest);
    dir
}

/// Builds a new key under `dir` keeping the file's extension, lowercased: a random
/// id, then `.` and the extension when it is 1 to 16 ASCII letters or digits.
pub fn unique_key(dir: &str, filename: Option<&str>) -> String {
    let id = random_id();
    let extension = filename
        .and_then(|name| name.rsplit_once('.'))
        .map(|(_, extension)| extension)
        .filter(|extension| {
            (1..=MAX_EXTENSION_LEN).contains(&extension.len())
                && extension.bytes().all(|byte| byte.is_ascii_alphanumeric())
        });
    match extension {
        Some(extension) => format!("{dir}{id}.{}", extension.to_ascii_lowercase()),
        None => format!("{dir}{id}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn dir_template_fills_user_and_date() {
        let now = at("2026-03-05T23:59:59Z");
        assert_eq!(
            render_dir("uploads/{user}/{date}/", "alice", now),
            "uploads/alice/2026-03-05/"
        );
        assert_eq!(
            render_dir("{year}/{month}/{day}/{user}/", "bob", now),
            "2026/03/05/bob/"
        );
    }

    #[test]
    fn unique_key_keeps_a_plain_extension() {
        let key = unique_key("u/alice/", Some("Holiday Photo.JPG"));
        assert!(key.starts_with("u/alice/"), "{key}");
        assert!(key.ends_with(".jpg"), "{key}");
        assert_eq!(key.len(), "u/alice/".len() + 32 + 4);
    }

    #[test]
    fn unique_key_drops_odd_extensions() {
        for name in [
            None,
            Some("README"),
            Some("a.tar/../x"),
            Some("x.p%20g"),
            Some("x."),
        ] {
            let key = unique_key("d/", name);
            assert_eq!(key.len(), "d/".len() + 32, "{name:?} gave {key}");
        }
    }

    #[test]
    fn random_id_is_32_lowercase_hex_digits() {
        let id = random_id();
        assert_eq!(id.len(), 32, "{id}");
        assert!(
            id.bytes()
                .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte)),
            "{id}"
        );
        assert_ne!(random_id(), random_id());
    }

    #[test]
    fn unique_keys_differ() {
        assert_ne!(
            unique_key("d/", Some("a.png")),
            unique_key("d/", Some("a.png"))
        );
    }

    fn sample_token(key: Option<&str>) -> UploadToken {
        let mut fields = FormFields::new();
        fields.push("key", "u/dev/\"quoted\"\\上\u{1}.png");
        fields.push(
            "policy",
            "eyJleHBpcmF0aW9uIjoiMjAyNi0wMy0wNVQwMDowMDowMC4wMDBaIn0=",
        );
        UploadToken {
            url: "http://127.0.0.1:9000/bucket".to_owned(),
            method: "POST",
            fields,
            key: key.map(str::to_owned),
            dir: "u/dev/\n/".to_owned(),
            expire: 1_772_668_800,
            max_size: u64::MAX,
            content_types: vec!["image/png".to_owned(), "text/\"x\"".to_owned()],
            signature_version: "v4",
            token_id: "not serialised".to_owned(),
        }
    }

    #[test]
    fn token_json_matches_serde_with_key() {
        let token = sample_token(Some("u/dev/a b.png"));
        assert_eq!(token.to_json(), serde_json::to_string(&token).unwrap());
    }

    #[test]
    fn token_json_matches_serde_without_key() {
        let mut token = sample_token(None);
        token.content_types.clear();
        token.fields = FormFields::new();
        assert_eq!(token.to_json(), serde_json::to_string(&token).unwrap());
    }

    fn issuer(key_strategy: &str) -> TokenIssuer {
        let env = [
            ("OSSGATE_BUCKET", "examplebucket"),
            ("OSSGATE_REGION", "cn-hangzhou"),
            (
                "OSSGATE_CALLBACK_URL",
                "https://app.example.com/api/oss/callback",
            ),
            ("OSSGATE_TICKET_SECRET", "0123456789abcdef0123456789abcdef"),
            ("OSSGATE_KEY_STRATEGY", key_strategy),
            ("OSSGATE_AUTH_MODE", "none"),
            ("OSS_ACCESS_KEY_ID", "LTAI5tTestKeyId"),
            ("OSS_ACCESS_KEY_SECRET", "test-access-key-secret"),
        ];
        let sources = crate::config::ConfigSources {
            env: env
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
            ..Default::default()
        };
        let config = ServerConfig::load(&sources, crate::config::Mode::Serve).unwrap();
        TokenIssuer::new(&config)
    }

    /// Opens the ticket in a token's `callback` field.
    fn ticket_of(issuer: &TokenIssuer, callback: &str) -> Ticket {
        use base64::Engine as _;
        let param = base64::engine::general_purpose::STANDARD
            .decode(callback)
            .unwrap();
        let param: serde_json::Value = serde_json::from_slice(&param).unwrap();
        let body = param["callbackBody"].as_str().unwrap();
        let (_, sealed) = body.rsplit_once("&ticket=").unwrap();
        issuer.ticket_key().open(sealed).unwrap()
    }

    #[test]
    fn unique_key_token_carries_the_filename() {
        let issuer = issuer("unique");
        let request = TokenRequest {
            filename: Some("假期照片.png".to_owned()),
            ..TokenRequest::default()
        };
        let token = issuer.issue("alice", &request, Utc::now()).unwrap();
        let ticket = ticket_of(&issuer, token.fields.get("callback").unwrap());
        assert_eq!(ticket.filename.as_deref(), Some("假期照片.png"));

        let unnamed = issuer
            .issue("alice", &TokenRequest::default(), Utc::now())
            .unwrap();
        let ticket = ticket_of(&issuer, unnamed.fields.get("callback").unwrap());
        assert_eq!(ticket.filename, None);
    }

    #[test]
    fn filename_with_bidi_control_is_rejected() {
        let issuer = issuer("unique");
        for name in [
            "abc\u{202E}txt.exe",
            "a\u{2066}b.png",
            "a\u{200F}.png",
            "a\nb.png",
        ] {
            let request = TokenRequest {
                filename: Some(name.to_owned()),
                ..TokenRequest::default()
            };
            let error = issuer.issue("alice", &request, Utc::now()).unwrap_err();
            assert!(
                matches!(
                    error,
                    ApiError::InvalidArgument {
                        name: "filename",
                        ..
                    }
                ),
                "{name:?} gave {error:?}"
            );
        }
        let request = TokenRequest {
            filename: Some("עברית و عربي.png".to_owned()),
            ..TokenRequest::default()
        };
        assert!(issuer.issue("alice", &request, Utc::now()).is_ok());
    }

    #[test]
    fn filename_key_and_legacy_tokens_carry_no_filename() {
        let issuer = issuer("filename");
        let request = TokenRequest {
            filename: Some("cat.png".to_owned()),
            ..TokenRequest::default()
        };
        let token = issuer.issue("alice", &request, Utc::now()).unwrap();
        let ticket = ticket_of(&issuer, token.fields.get("callback").unwrap());
        assert_eq!(ticket.filename, None);

        let legacy = issuer.issue_legacy("alice", Utc::now());
        assert_eq!(ticket_of(&issuer, &legacy.callback).filename, None);
    }

    #[test]
    fn longest_filename_keeps_callback_under_5_kb() {
        let issuer = issuer("unique");
        // A name of the maximum length a token request allows: 1023 bytes of
        // CJK text and a quote, which JSON escapes to two bytes.
        let filename = format!("{}\"", "报".repeat(341));
        assert_eq!(filename.len(), 1024);
        let request = TokenRequest {
            filename: Some(filename.clone()),
            ..TokenRequest::default()
        };
        let token = issuer.issue("alice", &request, Utc::now()).unwrap();
        let callback = token.fields.get("callback").unwrap();
        assert!(callback.len() < 5 * 1024, "{} bytes", callback.len());

        let recorded = ticket_of(&issuer, callback).filename.unwrap();
        assert_eq!(recorded.len(), 255);
        assert!(filename.starts_with(&recorded));
    }

    #[test]
    fn callback_template_names_every_variable() {
        let template = callback_body_template("TICKET");
        for variable in [
            "${bucket}",
            "${object}",
            "${etag}",
            "${size}",
            "${mimeType}",
            "${imageInfo.width}",
            "${imageInfo.height}",
            "${imageInfo.format}",
            "${crc64}",
            "${clientIp}",
            "${reqId}",
        ] {
            assert!(template.contains(variable), "{variable} missing");
        }
        assert!(template.ends_with("&ticket=TICKET"));
    }
}
