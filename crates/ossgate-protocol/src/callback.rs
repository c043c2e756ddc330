//! The `callback` form field (base64 of a JSON object), custom `x:` variables
//! and callback body rendering.

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
}

/// The maximum size of the `callback` and `callback-var` values, decoded: 5 KB.
pub const MAX_CALLBACK_PARAM_BYTES: usize = 5 * 1024;

/// The maximum number of URLs in `callbackUrl`.
pub const MAX_CALLBACK_URLS: usize = 5;

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
    pub fn to_json(&self) -> String {
        todo!()
    }

    /// Returns the standard base64 of [`CallbackParam::to_json`]: the `callback` field value.
    pub fn to_base64(&self) -> String {
        todo!()
    }

    /// Decodes and validates a `callback` field value.
    pub fn from_base64(value: &str) -> Result<Self, CallbackParamError> {
        let _ = value;
        todo!()
    }

    /// Parses and validates the decoded JSON.
    pub fn from_json(json: &[u8]) -> Result<Self, CallbackParamError> {
        let _ = json;
        todo!()
    }
}

/// Custom callback variables (`x:name` -> value), in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CustomVars(Vec<(String, String)>);

impl CustomVars {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a variable. The name must start with `x:` and be lowercase.
    pub fn insert(
        &mut self,
        name: &str,
        value: impl Into<String>,
    ) -> Result<(), CallbackParamError> {
        let _ = (name, value.into());
        todo!()
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

    /// Returns the `callback-var` encoding: base64 of a compact JSON object.
    pub fn to_base64(&self) -> String {
        todo!()
    }

    /// Decodes a `callback-var` value.
    pub fn from_base64(value: &str) -> Result<Self, CallbackParamError> {
        let _ = value;
        todo!()
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

/// Renders a callback body template. `${name}` placeholders for system
/// variables and `${x:…}` variables are replaced; unknown placeholders become
/// empty. Form bodies URL-encode each value as OSS does; JSON bodies insert
/// strings as quoted JSON strings and numbers bare, except inside a string
/// literal of the template, where values go in raw.
pub fn render_body(template: &str, body_type: CallbackBodyType, context: &RenderContext) -> String {
    let _ = (template, body_type, context);
    todo!()
}
