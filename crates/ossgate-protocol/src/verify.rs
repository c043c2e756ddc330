//! Upload-callback verification and signing.
//!
//! OSS signs `url_decode(path) [+ "?" + raw_query] + "\n" + body` with
//! RSASSA-PKCS1-v1_5 over MD5, and names the key in `x-oss-pub-key-url`
//! (base64 of a URL). Only path, query and body are signed: no header and no
//! timestamp, so replay protection is the application's job.
//!
//! The key URL policy ([`KeyUrlPolicy`]) decides whether a key URL may be used
//! at all, before any network I/O. OSS's own key is built in
//! ([`CallbackPublicKey::oss`]), so real callbacks never need a fetch. This
//! module does no I/O: fetching a key for [`TrustedKeyUrl::OssHost`] or
//! [`TrustedKeyUrl::Extra`] is the caller's job.

use std::sync::OnceLock;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use md5::{Digest as _, Md5};
use rsa::pkcs1::der::{self, Decode as _};
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::pkcs8::DecodePrivateKey as _;
use rsa::traits::PublicKeyParts as _;
use rsa::{BigUint, Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};

use crate::oss_key::{OSS_CALLBACK_KEY_URLS, OSS_CALLBACK_PUBLIC_KEY_PEM, OSS_KEY_HOST};

/// The `authorization` header, which carries the base64 signature.
pub const AUTHORIZATION_HEADER: &str = "authorization";

/// The `x-oss-pub-key-url` header, which carries the base64 key URL.
pub const PUB_KEY_URL_HEADER: &str = "x-oss-pub-key-url";

/// The smallest accepted RSA modulus, in bits: OSS's own key has 512.
pub const MIN_KEY_BITS: usize = 512;

/// The largest accepted RSA modulus, in bits.
pub const MAX_KEY_BITS: usize = 4096;

/// Why a callback was rejected. One variant per cause.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the {0} header is missing")]
    MissingHeader(&'static str),
    #[error("the {header} header is not valid base64")]
    BadBase64 { header: &'static str },
    #[error("untrusted public key URL {url:?}: {reason}")]
    UntrustedKeyUrl {
        url: String,
        reason: UntrustedReason,
    },
    #[error("the public key at {url:?} is unavailable: {reason}")]
    KeyUnavailable { url: String, reason: String },
    #[error("invalid public key: {0}")]
    BadKey(String),
    #[error("invalid percent-escape in the callback path {0:?}")]
    InvalidPathEscape(String),
    /// The decoded path contains a line break. OSS's string to sign does not
    /// delimit the path from the body, so such a path could shift signed bytes
    /// between the two.
    #[error("the callback path {0:?} decodes to a line break, which no callback URL contains")]
    PathContainsLineBreak(String),
    #[error("the callback signature does not match")]
    SignatureMismatch,
}

/// Why a key URL is not trusted. Each forgery class has its own variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UntrustedReason {
    #[error("it is not a valid absolute URL")]
    NotAUrl,
    #[error("only key URLs starting with lowercase http:// or https:// are accepted")]
    Scheme,
    #[error("a key URL must not carry user information")]
    UserInfo,
    #[error("a key URL must not name a port")]
    ExplicitPort,
    #[error("the host is not gosspublic.alicdn.com and no trusted prefix matches")]
    ForeignHost,
    #[error("the host imitates gosspublic.alicdn.com but is a different host")]
    LookalikeHost,
    #[error("a key URL must not contain a backslash, which URL parsers read differently")]
    Backslash,
    #[error("a key URL must not contain whitespace, control or non-ASCII characters")]
    ControlCharacter,
    #[error("the host must be written in lowercase")]
    UppercaseHost,
    #[error("the host must not be percent-encoded or otherwise encoded")]
    EncodedHost,
    /// A query or fragment, which OSS's key URLs never have. On a trusted
    /// prefix a query could select a presigned link to a file any uploader
    /// wrote, and on OSS's host it would defeat the key cache.
    #[error("a key URL must not carry a query or a fragment")]
    QueryOrFragment,
}

/// Base64 as OSS and the SDKs write it (standard alphabet), decoded whether or
/// not the padding is present.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// An RSA public key for callbacks, 512 to 4096 bits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallbackPublicKey(RsaPublicKey);

impl CallbackPublicKey {
    /// Parses PEM: `BEGIN PUBLIC KEY` (SubjectPublicKeyInfo) or `BEGIN RSA
    /// PUBLIC KEY` (PKCS#1), with or without a trailing newline.
    ///
    /// # Errors
    ///
    /// [`VerifyError::BadKey`] when the text is not PEM, carries another label,
    /// is not an RSA key, or the modulus is outside 512 to 4096 bits.
    pub fn from_pem(pem: &str) -> Result<Self, VerifyError> {
        let text = pem.trim();
        if text.is_empty() {
            return Err(VerifyError::BadKey("the key text is empty".to_owned()));
        }
        if !text.starts_with("-----BEGIN ") {
            return Err(VerifyError::BadKey(
                "the key text is not PEM: it must start with a \"-----BEGIN PUBLIC KEY-----\" \
                 or \"-----BEGIN RSA PUBLIC KEY-----\" line"
                    .to_owned(),
            ));
        }
        let (label, der) = der::pem::decode_vec(text.as_bytes())
            .map_err(|error| VerifyError::BadKey(format!("the text is not valid PEM ({error})")))?;

        let pkcs1_der = match label {
            "PUBLIC KEY" => rsa_key_from_spki(&der)?,
            "RSA PUBLIC KEY" => der,
            other => {
                return Err(VerifyError::BadKey(format!(
                    "expected a \"PUBLIC KEY\" or \"RSA PUBLIC KEY\" PEM block, found {other:?}"
                )))
            }
        };
        Self::from_pkcs1_der(&pkcs1_der)
    }

    /// Parses a DER-encoded PKCS#1 `RSAPublicKey`, checking its size.
    fn from_pkcs1_der(der: &[u8]) -> Result<Self, VerifyError> {
        let parsed = rsa::pkcs1::RsaPublicKey::from_der(der)
            .map_err(|error| VerifyError::BadKey(format!("invalid RSA public key ({error})")))?;
        let modulus = BigUint::from_bytes_be(parsed.modulus.as_bytes());
        let exponent = BigUint::from_bytes_be(parsed.public_exponent.as_bytes());

        // The size is checked before `RsaPublicKey::new`, so an oversized key
        // gets a message that names its size.
        check_modulus_bits(modulus.bits())?;

        let key = RsaPublicKey::new(modulus, exponent)
            .map_err(|error| VerifyError::BadKey(format!("invalid RSA public key ({error})")))?;
        Ok(Self(key))
    }

    /// The built-in OSS key, parsed once on first use.
    pub fn oss() -> &'static Self {
        static OSS_KEY: OnceLock<CallbackPublicKey> = OnceLock::new();
        OSS_KEY.get_or_init(|| {
            // The PEM is a constant that the tests parse, so this cannot fail
            // at run time.
            Self::from_pem(OSS_CALLBACK_PUBLIC_KEY_PEM).expect("the built-in OSS key parses")
        })
    }

    /// The size of the modulus in bits.
    pub fn bits(&self) -> usize {
        self.0.n().bits()
    }

    /// The size of a signature made with this key, in bytes.
    pub fn signature_len(&self) -> usize {
        self.0.size()
    }

    pub fn as_rsa(&self) -> &RsaPublicKey {
        &self.0
    }
}

impl From<&RsaPrivateKey> for CallbackPublicKey {
    fn from(private_key: &RsaPrivateKey) -> Self {
        Self(private_key.to_public_key())
    }
}

/// Extracts the PKCS#1 key from a SubjectPublicKeyInfo, which must name
/// `rsaEncryption`.
fn rsa_key_from_spki(der: &[u8]) -> Result<Vec<u8>, VerifyError> {
    let spki = rsa::pkcs8::spki::SubjectPublicKeyInfoRef::from_der(der)
        .map_err(|error| VerifyError::BadKey(format!("invalid SubjectPublicKeyInfo ({error})")))?;
    if spki.algorithm.oid != rsa::pkcs1::ALGORITHM_OID {
        return Err(VerifyError::BadKey(format!(
            "the key algorithm is {}, not rsaEncryption (1.2.840.113549.1.1.1)",
            spki.algorithm.oid
        )));
    }
    let bytes = spki.subject_public_key.as_bytes().ok_or_else(|| {
        VerifyError::BadKey("the SubjectPublicKeyInfo key bits are not whole bytes".to_owned())
    })?;
    Ok(bytes.to_vec())
}

fn check_modulus_bits(bits: usize) -> Result<(), VerifyError> {
    if !(MIN_KEY_BITS..=MAX_KEY_BITS).contains(&bits) {
        return Err(VerifyError::BadKey(format!(
            "the key has a {bits}-bit modulus, but callback keys must have {MIN_KEY_BITS} to \
             {MAX_KEY_BITS} bits"
        )));
    }
    Ok(())
}

/// Loads an RSA private key from PEM: `BEGIN RSA PRIVATE KEY` (PKCS#1) or
/// unencrypted `BEGIN PRIVATE KEY` (PKCS#8), with or without a trailing
/// newline. The emulator and the tests sign callbacks with it.
///
/// # Errors
///
/// [`VerifyError::BadKey`] when the text is not such a key or the modulus is
/// outside 512 to 4096 bits.
pub fn load_private_key_pem(pem: &str) -> Result<RsaPrivateKey, VerifyError> {
    let pem = pem.trim();
    let label = der::pem::decode_label(pem.as_bytes())
        .map_err(|error| VerifyError::BadKey(format!("the text is not valid PEM ({error})")))?;

    let key = match label {
        "RSA PRIVATE KEY" => RsaPrivateKey::from_pkcs1_pem(pem).map_err(|error| {
            VerifyError::BadKey(format!("invalid PKCS#1 RSA private key ({error})"))
        })?,
        "PRIVATE KEY" => RsaPrivateKey::from_pkcs8_pem(pem).map_err(|error| {
            VerifyError::BadKey(format!("invalid PKCS#8 RSA private key ({error})"))
        })?,
        other => {
            return Err(VerifyError::BadKey(format!(
                "expected an unencrypted \"RSA PRIVATE KEY\" or \"PRIVATE KEY\" PEM block, \
                 found {other:?}"
            )))
        }
    };

    check_modulus_bits(key.n().bits())?;
    Ok(key)
}

/// Returns the string to sign for a raw request target (`/path` or
/// `/path?query`, as on the request line) and a raw body: the path
/// percent-decoded once (`+` stays `+`; an invalid escape is an error), then
/// `?` and the raw query when the query is non-empty, then `\n`, then the body.
///
/// The path is everything before the first `?`. Its decoded bytes are kept as
/// they are, even when they are not UTF-8. A target that ends in a bare `?`
/// (an empty query) signs like the target without it, as the official Go and
/// Python samples do (their URL parsers report an empty query for it).
///
/// # Errors
///
/// [`VerifyError::InvalidPathEscape`] when a `%` in the path is not followed
/// by two hex digits.
pub fn string_to_sign(request_target: &str, body: &[u8]) -> Result<Vec<u8>, VerifyError> {
    let (path, query) = match request_target.split_once('?') {
        Some((path, query)) => (path, query),
        None => (request_target, ""),
    };

    let mut message =
        percent_decode_path(path).ok_or_else(|| VerifyError::InvalidPathEscape(path.to_owned()))?;
    if message.contains(&b'\n') {
        return Err(VerifyError::PathContainsLineBreak(path.to_owned()));
    }
    message.reserve(query.len() + 2 + body.len());

    if !query.is_empty() {
        message.push(b'?');
        message.extend_from_slice(query.as_bytes());
    }
    message.push(b'\n');
    message.extend_from_slice(body);
    Ok(message)
}

/// Decodes every `%XX` once, keeping `+` and all other bytes. Returns `None`
/// when a `%` is not followed by two hex digits.
fn percent_decode_path(path: &str) -> Option<Vec<u8>> {
    let bytes = path.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let high = hex_value(*bytes.get(index + 1)?)?;
            let low = hex_value(*bytes.get(index + 2)?)?;
            decoded.push(high << 4 | low);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    Some(decoded)
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// Verifies a callback: `authorization` is the base64 header value.
///
/// # Errors
///
/// [`VerifyError::MissingHeader`] for an empty `authorization`,
/// [`VerifyError::BadBase64`] when it is not base64,
/// [`VerifyError::InvalidPathEscape`] from [`string_to_sign`], and
/// [`VerifyError::SignatureMismatch`] when the signature is not the key's
/// signature of the string to sign (including a signature whose length is not
/// the modulus size).
pub fn verify(
    request_target: &str,
    body: &[u8],
    authorization: &str,
    key: &CallbackPublicKey,
) -> Result<(), VerifyError> {
    let signature = decode_authorization(authorization)?;
    let message = string_to_sign(request_target, body)?;
    verify_message(&message, &signature, key)
}

/// Decodes the base64 `authorization` header value into signature bytes.
///
/// # Errors
///
/// [`VerifyError::MissingHeader`] when the value is empty and
/// [`VerifyError::BadBase64`] when it is not base64.
pub fn decode_authorization(authorization: &str) -> Result<Vec<u8>, VerifyError> {
    let authorization = authorization.trim();
    if authorization.is_empty() {
        return Err(VerifyError::MissingHeader(AUTHORIZATION_HEADER));
    }
    BASE64
        .decode(authorization)
        .map_err(|_| VerifyError::BadBase64 {
            header: AUTHORIZATION_HEADER,
        })
}

/// Verifies an RSASSA-PKCS1-v1_5 MD5 signature over an already built string
/// to sign.
///
/// # Errors
///
/// [`VerifyError::SignatureMismatch`] when the signature does not match or its
/// length is not the modulus size.
pub fn verify_message(
    message: &[u8],
    signature: &[u8],
    key: &CallbackPublicKey,
) -> Result<(), VerifyError> {
    // A signature is exactly as long as the modulus. Anything else was made
    // with another key or truncated on the way.
    if signature.len() != key.signature_len() {
        return Err(VerifyError::SignatureMismatch);
    }

    let digest = Md5::digest(message);
    key.0
        .verify(Pkcs1v15Sign::new::<Md5>(), &digest, signature)
        .map_err(|_| VerifyError::SignatureMismatch)
}

/// Returns the base64 `authorization` value for a target and body: what OSS
/// (or the emulator) sends. RSASSA-PKCS1-v1_5 is deterministic, so the same
/// inputs always give the same value.
///
/// # Errors
///
/// [`VerifyError::InvalidPathEscape`] from [`string_to_sign`], and
/// [`VerifyError::BadKey`] when the key is too small to sign an MD5 digest.
pub fn sign(request_target: &str, body: &[u8], key: &RsaPrivateKey) -> Result<String, VerifyError> {
    let message = string_to_sign(request_target, body)?;
    let digest = Md5::digest(&message);
    let signature = key
        .sign(Pkcs1v15Sign::new::<Md5>(), &digest)
        .map_err(|error| VerifyError::BadKey(format!("signing failed ({error})")))?;
    Ok(BASE64.encode(signature))
}

/// Which key URLs are trusted, checked before any network I/O.
///
/// By default only `http(s)://gosspublic.alicdn.com/...` with no userinfo and
/// no explicit port, written in the canonical form OSS sends.
///
/// Extra trusted prefixes (for a local emulator, such as
/// `http://127.0.0.1:9000/`) are matched as string prefixes of the decoded URL
/// and of its normalised form (so `..` segments cannot climb out of the
/// prefix). A prefix that does not end in `/` matches only at a boundary: the
/// URL must continue with `/`, `?` or `#`, or end there, so
/// `http://127.0.0.1:9000` does not trust `http://127.0.0.1:90001/`. URLs
/// under an extra prefix must still be http or https without userinfo,
/// backslashes or control characters. They may name a port.
#[derive(Clone, Debug, Default)]
pub struct KeyUrlPolicy {
    pub extra_prefixes: Vec<String>,
}

/// A key URL that passed the policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrustedKeyUrl {
    /// One of OSS's URLs for the built-in key: no fetch needed.
    Oss(String),
    /// Another URL on gosspublic.alicdn.com: must be fetched.
    OssHost(String),
    /// A URL under a configured extra prefix: must be fetched.
    Extra(String),
}

impl TrustedKeyUrl {
    pub fn url(&self) -> &str {
        match self {
            Self::Oss(url) | Self::OssHost(url) | Self::Extra(url) => url,
        }
    }

    /// The URL to download the key from, or `None` for the built-in key.
    ///
    /// Keys on OSS's host are always downloaded over https, even when the
    /// header names `http://`, because every signature is checked against the
    /// key and anyone on the network path could reply to a plain-http download.
    pub fn fetch_url(&self) -> Option<String> {
        match self {
            Self::Oss(_) => None,
            Self::OssHost(url) => Some(match url.strip_prefix("http://") {
                Some(rest) => format!("https://{rest}"),
                None => url.clone(),
            }),
            Self::Extra(url) => Some(url.clone()),
        }
    }

    /// The built-in key when this is one of OSS's key URLs.
    pub fn builtin_key(&self) -> Option<&'static CallbackPublicKey> {
        match self {
            Self::Oss(_) => Some(CallbackPublicKey::oss()),
            _ => None,
        }
    }
}

impl KeyUrlPolicy {
    /// Checks that a trusted prefix names a scheme and a whole host, such as
    /// `http://127.0.0.1:9000/`, so that it cannot trust every host by accident.
    ///
    /// # Errors
    ///
    /// A message naming the prefix and the fix.
    pub fn validate_prefix(prefix: &str) -> Result<(), String> {
        let Some(rest) = prefix
            .strip_prefix("http://")
            .or_else(|| prefix.strip_prefix("https://"))
        else {
            return Err(format!(
                "trusted key URL prefix {prefix:?} must start with http:// or https://"
            ));
        };
        let (authority, path) = match rest.find('/') {
            Some(index) => rest.split_at(index),
            None => (rest, ""),
        };
        if authority.is_empty() || authority.contains(['@', '?', '#', '\\']) {
            return Err(format!(
                "trusted key URL prefix {prefix:?} must name a host, e.g. http://127.0.0.1:9000/callback_pub_key_v1.pem"
            ));
        }
        if path.is_empty() {
            return Err(format!(
                "trusted key URL prefix {prefix:?} must end the host with a slash, e.g. {prefix}/"
            ));
        }
        Ok(())
    }

    pub fn with_extra_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.extra_prefixes.push(prefix.into());
        self
    }

    /// Decodes the base64 `x-oss-pub-key-url` value and applies the policy.
    ///
    /// # Errors
    ///
    /// [`VerifyError::MissingHeader`] for an empty value,
    /// [`VerifyError::BadBase64`] when it is not base64, and
    /// [`VerifyError::UntrustedKeyUrl`] as for [`KeyUrlPolicy::check_url`].
    pub fn check_header(&self, header_value: &str) -> Result<TrustedKeyUrl, VerifyError> {
        let header_value = header_value.trim();
        if header_value.is_empty() {
            return Err(VerifyError::MissingHeader(PUB_KEY_URL_HEADER));
        }
        let decoded = BASE64
            .decode(header_value)
            .map_err(|_| VerifyError::BadBase64 {
                header: PUB_KEY_URL_HEADER,
            })?;

        match String::from_utf8(decoded) {
            Ok(url) => self.check_url(&url),
            Err(error) => Err(untrusted(
                &String::from_utf8_lossy(error.as_bytes()),
                UntrustedReason::ControlCharacter,
            )),
        }
    }

    /// Applies the policy to a decoded URL.
    ///
    /// The raw text is checked as well as the parsed URL, because the URL
    /// parser silently repairs some forgeries. It drops a default port, strips
    /// tabs and newlines, lowercases and percent-decodes the host and reads
    /// `\` as `/`, while another client might read the same text differently.
    ///
    /// # Errors
    ///
    /// [`VerifyError::UntrustedKeyUrl`] with the reason the URL is rejected.
    pub fn check_url(&self, url: &str) -> Result<TrustedKeyUrl, VerifyError> {
        // Characters that parsers disagree on, checked on the raw text.
        if url.contains('\\') {
            return Err(untrusted(url, UntrustedReason::Backslash));
        }
        if url.bytes().any(|byte| byte <= b' ' || byte >= 0x7f) {
            return Err(untrusted(url, UntrustedReason::ControlCharacter));
        }

        // Scheme and authority, from the raw text: the parser would accept
        // `HTTP:`, `http:host` and drop a default `:80`.
        let Some(authority_and_rest) = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
        else {
            return Err(untrusted(url, UntrustedReason::Scheme));
        };
        let raw_authority = authority_and_rest
            .split(['/', '?', '#'])
            .next()
            .unwrap_or_default();
        if raw_authority.is_empty() {
            return Err(untrusted(url, UntrustedReason::NotAUrl));
        }
        if raw_authority.contains('@') {
            return Err(untrusted(url, UntrustedReason::UserInfo));
        }

        let parsed = url::Url::parse(url).map_err(|_| untrusted(url, UntrustedReason::NotAUrl))?;
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(untrusted(url, UntrustedReason::UserInfo));
        }
        let Some(host) = parsed.host_str() else {
            return Err(untrusted(url, UntrustedReason::NotAUrl));
        };

        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(untrusted(url, UntrustedReason::QueryOrFragment));
        }

        // OSS's own key URLs use the built-in key, even when a configured
        // prefix also matches them.
        if OSS_CALLBACK_KEY_URLS.contains(&url) {
            return Ok(TrustedKeyUrl::Oss(url.to_owned()));
        }

        // Configured prefixes are the only way to trust another host or a port.
        if self
            .extra_prefixes
            .iter()
            .any(|prefix| prefix_matches(prefix, url) && prefix_matches(prefix, parsed.as_str()))
        {
            return Ok(TrustedKeyUrl::Extra(url.to_owned()));
        }

        // Everything else must be OSS's host, written exactly as OSS writes it.
        if host != OSS_KEY_HOST {
            let reason = if host.contains(OSS_KEY_HOST) {
                UntrustedReason::LookalikeHost
            } else {
                UntrustedReason::ForeignHost
            };
            return Err(untrusted(url, reason));
        }
        let (raw_host, raw_port) = match raw_authority.rsplit_once(':') {
            Some((raw_host, raw_port)) => (raw_host, Some(raw_port)),
            None => (raw_authority, None),
        };
        if raw_port.is_some() {
            return Err(untrusted(url, UntrustedReason::ExplicitPort));
        }
        if raw_host != OSS_KEY_HOST {
            let reason = if raw_host.eq_ignore_ascii_case(OSS_KEY_HOST) {
                UntrustedReason::UppercaseHost
            } else {
                UntrustedReason::EncodedHost
            };
            return Err(untrusted(url, reason));
        }

        Ok(TrustedKeyUrl::OssHost(url.to_owned()))
    }
}

/// Whether `url` starts with `prefix` at a path boundary.
fn prefix_matches(prefix: &str, url: &str) -> bool {
    let Some(rest) = url.strip_prefix(prefix) else {
        return false;
    };
    prefix.ends_with('/') || rest.is_empty() || rest.starts_with(['/', '?', '#'])
}

fn untrusted(url: &str, reason: UntrustedReason) -> VerifyError {
    VerifyError::UntrustedKeyUrl {
        url: url.to_owned(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decode_path_keeps_plus() {
        assert_eq!(percent_decode_path("/a+b%2Bc").unwrap(), b"/a+b+c");
    }

    #[test]
    fn percent_decode_path_rejects_short_escape() {
        assert_eq!(percent_decode_path("/a%2"), None);
        assert_eq!(percent_decode_path("/a%"), None);
        assert_eq!(percent_decode_path("/a%zz"), None);
    }

    #[test]
    fn prefix_without_slash_matches_at_boundary() {
        assert!(prefix_matches(
            "http://127.0.0.1:9000",
            "http://127.0.0.1:9000/k.pem"
        ));
        assert!(!prefix_matches(
            "http://127.0.0.1:9000",
            "http://127.0.0.1:90001/k.pem"
        ));
        assert!(prefix_matches(
            "http://127.0.0.1:9000/keys/",
            "http://127.0.0.1:9000/keys/k"
        ));
    }
}
