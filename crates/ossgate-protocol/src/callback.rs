//! The `callback` form field (base64 of a JSON object), custom `x:` variables
//! and callback body rendering.
//!
//! [`CallbackParam`] encodes and validates the `callback` value with OSS's
//! `InvalidArgument` messages, [`CustomVars`] does the same for
//! `callback-var`, and [`render_body`] fills a `callbackBody` template the way
//! OSS does before it posts the callback. Nothing here sends a callback.

use std::fmt;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde::Serialize;
use serde_json::Value;

/// `callbackBodyType`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CallbackBodyType {
    /// `application/x-www-form-urlencoded`, OSS's default.
    #[default]
    Form,
    /// `application/json`.
    Json,
}

impl CallbackBodyType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Form => "application/x-www-form-urlencoded",
            Self::Json => "application/json",
        }
    }

    /// Parses a `callbackBodyType` value. Media types are case-insensitive,
    /// so `Application/JSON` is accepted. Parameters such as
    /// `; charset=utf-8` are not.
    pub fn parse(value: &str) -> Option<Self> {
        [Self::Form, Self::Json]
            .into_iter()
            .find(|body_type| body_type.as_str().eq_ignore_ascii_case(value))
    }
}

/// The decoded `callback` parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallbackParam {
    /// 1 to 5 URLs, tried in order (`callbackUrl`, joined by `;` on the wire).
    pub urls: Vec<String>,
    /// `callbackHost`: the `Host` header OSS sends.
    pub host: Option<String>,
    /// `callbackBody`: the template, sent verbatim (never URL-encoded).
    pub body: String,
    /// `callbackBodyType`; `None` when absent from the JSON (OSS then uses form).
    pub body_type: Option<CallbackBodyType>,
    /// `callbackSNI`: a JSON boolean.
    pub sni: Option<bool>,
}

/// An invalid `callback` parameter. `Display` is OSS's `InvalidArgument` message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallbackParamError {
    #[error("The callback configuration is not base64 encoded.")]
    NotBase64,
    #[error("The callback configuration is not json format.")]
    NotJson,
    #[error("The callback url configuration is invalid.")]
    InvalidUrl,
    #[error("The callback host configuration is invalid.")]
    InvalidHost,
    #[error("The callback body configuration is invalid.")]
    InvalidBody,
    #[error("The callback body type configuration is invalid.")]
    InvalidBodyType,
    #[error("The callback sni configuration is invalid.")]
    InvalidSni,
    #[error("The number of callback url exceed max value.")]
    TooManyUrls,
    #[error("The callback configuration is too large, the limit is 5KB.")]
    TooLarge,
    #[error("The callback-var configuration is not base64 encoded.")]
    VarNotBase64,
    #[error("The callback-var configuration is not json format.")]
    VarNotJson,
    #[error(
        "The callback-var key {0:?} is invalid: keys must start with \"x:\" and be lowercase."
    )]
    InvalidVarName(String),
    #[error("The callback-var value of {0:?} is invalid: values must be JSON strings.")]
    InvalidVarValue(String),
    #[error("The callback-var configuration is too large, the limit is 5KB.")]
    VarTooLarge,
}

/// The maximum size of the `callback` and `callback-var` values, decoded: 5 KB.
pub const MAX_CALLBACK_PARAM_BYTES: usize = 5 * 1024;

/// The maximum number of URLs in `callbackUrl`.
pub const MAX_CALLBACK_URLS: usize = 5;

/// The longest base64 text that can decode to [`MAX_CALLBACK_PARAM_BYTES`]:
/// longer values are rejected before they are decoded.
const MAX_CALLBACK_PARAM_BASE64_LEN: usize = MAX_CALLBACK_PARAM_BYTES.div_ceil(3) * 4;

/// Base64 as the SDKs write it (standard alphabet), decoded whether or not
/// the padding is present.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The `callback` JSON as written: fields in declaration order, absent ones
/// omitted.
#[derive(Serialize)]
struct CallbackJson<'a> {
    #[serde(rename = "callbackUrl")]
    url: String,
    #[serde(rename = "callbackHost", skip_serializing_if = "Option::is_none")]
    host: Option<&'a str>,
    #[serde(rename = "callbackBody")]
    body: &'a str,
    #[serde(rename = "callbackSNI", skip_serializing_if = "Option::is_none")]
    sni: Option<bool>,
    #[serde(rename = "callbackBodyType", skip_serializing_if = "Option::is_none")]
    body_type: Option<&'static str>,
}

impl CallbackParam {
    /// A callback to one URL with the given body template.
    pub fn new(url: impl Into<String>, body: impl Into<String>) -> Self {
        Self {
            urls: vec![url.into()],
            host: None,
            body: body.into(),
            body_type: None,
            sni: None,
        }
    }

    /// The body type OSS uses: the given one, or form.
    pub fn effective_body_type(&self) -> CallbackBodyType {
        self.body_type.unwrap_or_default()
    }

    /// Serialises to compact JSON with keys in the order `callbackUrl`,
    /// `callbackHost`, `callbackBody`, `callbackSNI`, `callbackBodyType`, omitting
    /// absent ones.
    ///
    /// Strings are escaped as serde_json does: `&`, `<` and `>` stay as they
    /// are, where Go's `encoding/json` writes `\u0026`. OSS accepts both.
    pub fn to_json(&self) -> String {
        let json = CallbackJson {
            url: self.urls.join(";"),
            host: self.host.as_deref(),
            body: &self.body,
            sni: self.sni,
            body_type: self.body_type.map(CallbackBodyType::as_str),
        };
        // Serialising strings, booleans and options into a String cannot fail.
        serde_json::to_string(&json).expect("callback JSON serialises")
    }

    /// Returns the standard base64 of [`CallbackParam::to_json`]: the `callback` field value.
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.to_json())
    }

    /// Decodes and validates a `callback` field value.
    ///
    /// # Errors
    ///
    /// [`CallbackParamError::NotBase64`] when the value is not base64,
    /// [`CallbackParamError::TooLarge`] when it decodes to more than 5 KB, and
    /// the errors of [`CallbackParam::from_json`].
    pub fn from_base64(value: &str) -> Result<Self, CallbackParamError> {
        let value = value.trim();
        if value.len() > MAX_CALLBACK_PARAM_BASE64_LEN {
            return Err(CallbackParamError::TooLarge);
        }
        let json = BASE64
            .decode(value)
            .map_err(|_| CallbackParamError::NotBase64)?;
        Self::from_json(&json)
    }

    /// Parses and validates the decoded JSON.
    ///
    /// `callbackUrl` must hold 1 to 5 absolute http or https URLs with a host,
    /// joined by `;`, written in ASCII (non-ASCII characters percent-encoded)
    /// and with a valid port when one is given. IPv6 literal hosts are
    /// rejected, as OSS's current documentation says callbacks do not support
    /// IPv6. `callbackBody` must be a non-empty string. An empty
    /// `callbackHost` counts as absent. Unknown keys are ignored.
    ///
    /// # Errors
    ///
    /// [`CallbackParamError::TooLarge`] over 5 KB, [`CallbackParamError::NotJson`]
    /// when the bytes are not a JSON object, and one error per invalid field.
    // NOTE: OSS's documentation says an empty `callbackUrl` means "no
    // callback". Here it is rejected as invalid, because a `CallbackParam`
    // always describes a callback: leave the `callback` field out instead.
    pub fn from_json(json: &[u8]) -> Result<Self, CallbackParamError> {
        if json.len() > MAX_CALLBACK_PARAM_BYTES {
            return Err(CallbackParamError::TooLarge);
        }
        let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(json) else {
            return Err(CallbackParamError::NotJson);
        };

        let urls = match object.get("callbackUrl") {
            Some(Value::String(urls)) => parse_callback_urls(urls)?,
            _ => return Err(CallbackParamError::InvalidUrl),
        };

        let host = match object.get("callbackHost") {
            None | Some(Value::Null) => None,
            Some(Value::String(host)) if host.is_empty() => None,
            Some(Value::String(host)) if is_valid_callback_host(host) => Some(host.clone()),
            Some(_) => return Err(CallbackParamError::InvalidHost),
        };

        let body = match object.get("callbackBody") {
            Some(Value::String(body)) if !body.is_empty() => body.clone(),
            _ => return Err(CallbackParamError::InvalidBody),
        };

        let body_type = match object.get("callbackBodyType") {
            None | Some(Value::Null) => None,
            Some(Value::String(body_type)) => Some(
                CallbackBodyType::parse(body_type).ok_or(CallbackParamError::InvalidBodyType)?,
            ),
            Some(_) => return Err(CallbackParamError::InvalidBodyType),
        };

        let sni = match object.get("callbackSNI") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(sni)) => Some(*sni),
            Some(_) => return Err(CallbackParamError::InvalidSni),
        };

        Ok(Self {
            urls,
            host,
            body,
            body_type,
            sni,
        })
    }
}

/// Splits `callbackUrl` on `;` and validates each URL.
fn parse_callback_urls(urls: &str) -> Result<Vec<String>, CallbackParamError> {
    let urls: Vec<&str> = urls.split(';').collect();
    if urls.len() > MAX_CALLBACK_URLS {
        return Err(CallbackParamError::TooManyUrls);
    }
    urls.into_iter()
        .map(|url| {
            if is_valid_callback_url(url) {
                Ok(url.to_owned())
            } else {
                Err(CallbackParamError::InvalidUrl)
            }
        })
        .collect()
}

/// Whether one callback URL is an absolute http or https URL with a DNS name
/// or IPv4 host and a valid port, written in printable ASCII.
fn is_valid_callback_url(url: &str) -> bool {
    if url.is_empty() || url.bytes().any(|byte| byte <= b' ' || byte >= 0x7f) {
        return false;
    }
    if url.contains('\\') {
        return false;
    }

    // The parser would repair `http:host`, `http:///host` and a missing
    // host, so the raw text must have a non-empty authority after `//`.
    let lowercase = url.to_ascii_lowercase();
    let Some(rest) = lowercase
        .strip_prefix("http://")
        .or_else(|| lowercase.strip_prefix("https://"))
    else {
        return false;
    };
    if rest.starts_with(['/', '?', '#']) || rest.is_empty() {
        return false;
    }

    // The parser rejects ports above 65535 and non-numeric ports.
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    match parsed.host() {
        Some(url::Host::Domain(domain)) if !domain.is_empty() => {}
        Some(url::Host::Ipv4(_)) => {}
        _ => return false,
    }
    parsed.port() != Some(0)
}

/// Whether a `callbackHost` value is a host name with an optional port.
fn is_valid_callback_host(host: &str) -> bool {
    let allowed = |byte: u8| byte.is_ascii_alphanumeric() || b".-_:".contains(&byte);
    if !host.bytes().all(allowed) {
        return false;
    }
    url::Url::parse(&format!("http://{host}/"))
        .is_ok_and(|parsed| parsed.host_str().is_some_and(|name| !name.is_empty()))
}

/// Custom callback variables (`x:name` -> value), in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CustomVars(Vec<(String, String)>);

impl CustomVars {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a variable, replacing the value of one with the same name. The
    /// name must start with `x:`, have at least one character after it and
    /// contain no uppercase letter.
    ///
    /// # Errors
    ///
    /// [`CallbackParamError::InvalidVarName`] for any other name.
    pub fn insert(
        &mut self,
        name: &str,
        value: impl Into<String>,
    ) -> Result<(), CallbackParamError> {
        if !is_valid_var_name(name) {
            return Err(CallbackParamError::InvalidVarName(name.to_owned()));
        }
        let value = value.into();
        match self.0.iter_mut().find(|(existing, _)| existing == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name.to_owned(), value)),
        }
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Returns the compact JSON object of the variables, in insertion order.
    pub fn to_json(&self) -> String {
        let mut json = String::from("{");
        for (index, (name, value)) in self.0.iter().enumerate() {
            if index > 0 {
                json.push(',');
            }
            json.push_str(&json_string(name));
            json.push(':');
            json.push_str(&json_string(value));
        }
        json.push('}');
        json
    }

    /// Returns the `callback-var` encoding: base64 of a compact JSON object.
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.to_json())
    }

    /// Decodes a `callback-var` value, keeping the order of the keys.
    ///
    /// # Errors
    ///
    /// [`CallbackParamError::VarNotBase64`], [`CallbackParamError::VarTooLarge`]
    /// over 5 KB, [`CallbackParamError::VarNotJson`] when it is not a JSON
    /// object, [`CallbackParamError::InvalidVarName`] and
    /// [`CallbackParamError::InvalidVarValue`] for a bad entry.
    pub fn from_base64(value: &str) -> Result<Self, CallbackParamError> {
        let value = value.trim();
        if value.len() > MAX_CALLBACK_PARAM_BASE64_LEN {
            return Err(CallbackParamError::VarTooLarge);
        }
        let json = BASE64
            .decode(value)
            .map_err(|_| CallbackParamError::VarNotBase64)?;
        if json.len() > MAX_CALLBACK_PARAM_BYTES {
            return Err(CallbackParamError::VarTooLarge);
        }

        let entries = serde_json::from_slice::<OrderedObject>(&json)
            .map_err(|_| CallbackParamError::VarNotJson)?;
        let mut vars = Self::new();
        for (name, value) in entries.0 {
            let Value::String(value) = value else {
                return Err(CallbackParamError::InvalidVarValue(name));
            };
            vars.insert(&name, value)?;
        }
        Ok(vars)
    }
}

fn is_valid_var_name(name: &str) -> bool {
    name.strip_prefix("x:")
        .is_some_and(|rest| !rest.is_empty() && !name.chars().any(char::is_uppercase))
}

/// A JSON object's entries in document order, whatever map type serde_json
/// is built with.
struct OrderedObject(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for OrderedObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor;

        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = OrderedObject;

            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedObject, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    entries.push(entry);
                }
                Ok(OrderedObject(entries))
            }
        }

        deserializer.deserialize_map(EntriesVisitor)
    }
}

/// Image facts for `${imageInfo.*}`; absent for non-images.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageInfo {
    pub width: u64,
    pub height: u64,
    /// `png`, `jpg`, `gif`, `webp`, `bmp`, … as OSS names them.
    pub format: String,
}

/// The values OSS substitutes into a callback body.
#[derive(Clone, Debug, Default)]
pub struct RenderContext {
    pub bucket: String,
    pub object: String,
    /// Uppercase hex MD5, without quotes.
    pub etag: String,
    pub size: u64,
    pub mime_type: String,
    pub image: Option<ImageInfo>,
    /// CRC-64/ECMA as a decimal string (`x-oss-hash-crc64ecma`).
    pub crc64: String,
    /// Base64 MD5 of the object.
    pub content_md5: String,
    pub client_ip: String,
    pub req_id: String,
    pub operation: String,
    pub vars: CustomVars,
}

/// The value of one placeholder before it is encoded for the body type.
enum VariableValue<'a> {
    Number(u64),
    Text(&'a str),
    Missing,
}

impl RenderContext {
    /// Looks a placeholder name up. Names are case-sensitive.
    fn variable(&self, name: &str) -> VariableValue<'_> {
        use VariableValue::{Missing, Number, Text};

        match name {
            "bucket" => Text(&self.bucket),
            "object" => Text(&self.object),
            "etag" => Text(&self.etag),
            "size" => Number(self.size),
            "mimeType" => Text(&self.mime_type),
            "imageInfo.height" => self
                .image
                .as_ref()
                .map_or(Missing, |image| Number(image.height)),
            "imageInfo.width" => self
                .image
                .as_ref()
                .map_or(Missing, |image| Number(image.width)),
            "imageInfo.format" => self
                .image
                .as_ref()
                .map_or(Missing, |image| Text(&image.format)),
            "crc64" => Text(&self.crc64),
            "contentMd5" => Text(&self.content_md5),
            "clientIp" => Text(&self.client_ip),
            "reqId" => Text(&self.req_id),
            "operation" => Text(&self.operation),
            custom if custom.starts_with("x:") => self.vars.get(custom).map_or(Missing, Text),
            _ => Missing,
        }
    }
}

/// The bytes a form body leaves as they are: RFC 3986 unreserved characters.
/// Everything else is percent-encoded in UTF-8, so `/` becomes `%2F`, `:`
/// becomes `%3A` and a space becomes `%20` (not `+`).
const FORM_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Renders a callback body template. `${name}` placeholders for system
/// variables and `${x:…}` variables are replaced; unknown placeholders become
/// empty. Form bodies URL-encode each value as OSS does; JSON bodies insert
/// strings as quoted JSON strings and numbers bare, except inside a string
/// literal of the template, where values go in raw.
///
/// The system variables are `bucket`, `object`, `etag`, `size`, `mimeType`,
/// `imageInfo.height`, `imageInfo.width`, `imageInfo.format`, `crc64`,
/// `contentMd5`, `clientIp`, `reqId` and `operation`. Text between the
/// placeholders, including the names in `x:var1=${x:var1}`, is copied as it
/// is, and a `${` with no closing `}` is copied as text.
///
/// Missing values are empty: the image facts of a non-image, an `x:`
/// variable the upload did not set, and unknown names. They render as nothing
/// in a form body or inside a JSON string literal, and as `""` elsewhere in a
/// JSON body so the JSON stays valid. `${size}`, `${imageInfo.width}` and `${imageInfo.height}` are bare
/// numbers in JSON. `${crc64}` is quoted, because a 64-bit value does not fit
/// a JSON number's exact range. Inside a JSON string literal, values are JSON
/// escaped but not quoted.
// NOTE: OSS's JSON output for missing image facts and for values containing
// quotes inside a string literal has not been observed; the choices above
// keep the body valid JSON.
pub fn render_body(template: &str, body_type: CallbackBodyType, context: &RenderContext) -> String {
    let mut body = String::with_capacity(template.len() + 64);
    let mut json_string = JsonStringTracker::default();
    let mut rest = template;

    while let Some(start) = rest.find("${") {
        let Some(length) = rest[start + 2..].find('}') else {
            break;
        };
        let literal = &rest[..start];
        body.push_str(literal);
        json_string.advance(literal);

        let name = &rest[start + 2..start + 2 + length];
        let value = context.variable(name);
        match body_type {
            CallbackBodyType::Form => push_form_value(&mut body, &value),
            CallbackBodyType::Json if json_string.inside => push_json_raw(&mut body, &value),
            CallbackBodyType::Json => push_json_value(&mut body, &value),
        }

        rest = &rest[start + 2 + length + 1..];
    }

    body.push_str(rest);
    body
}

fn push_form_value(body: &mut String, value: &VariableValue) {
    match value {
        VariableValue::Number(number) => body.push_str(&number.to_string()),
        VariableValue::Text(text) => {
            body.extend(percent_encoding::utf8_percent_encode(text, FORM_VALUE));
        }
        VariableValue::Missing => {}
    }
}

fn push_json_value(body: &mut String, value: &VariableValue) {
    match value {
        VariableValue::Number(number) => body.push_str(&number.to_string()),
        VariableValue::Text(text) => body.push_str(&json_string(text)),
        VariableValue::Missing => body.push_str("\"\""),
    }
}

fn push_json_raw(body: &mut String, value: &VariableValue) {
    match value {
        VariableValue::Number(number) => body.push_str(&number.to_string()),
        VariableValue::Text(text) => {
            let quoted = json_string(text);
            body.push_str(&quoted[1..quoted.len() - 1]);
        }
        VariableValue::Missing => {}
    }
}

/// A quoted, escaped JSON string.
fn json_string(text: &str) -> String {
    // Serialising a str into a String cannot fail.
    serde_json::to_string(text).expect("a string serialises to JSON")
}

/// Tracks whether the template text written so far ends inside a JSON string
/// literal.
#[derive(Default)]
struct JsonStringTracker {
    inside: bool,
    escaped: bool,
}

impl JsonStringTracker {
    fn advance(&mut self, text: &str) {
        for byte in text.bytes() {
            if !self.inside {
                self.inside = byte == b'"';
            } else if self.escaped {
                self.escaped = false;
            } else if byte == b'\\' {
                self.escaped = true;
            } else if byte == b'"' {
                self.inside = false;
            }
        }
    }
}
