//! Emulator settings: a typed struct with defaults, loadable from TOML.
//!
//! Every field has a default, so an empty TOML file is a valid configuration.
//! [`EmulatorConfig::validate`] checks what serde cannot (bucket names, CORS
//! wildcards, duplicate credentials) and names the offending value.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::EmulatorError;

/// Everything the emulator needs to start.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmulatorConfig {
    /// Address the standalone emulator listens on.
    pub listen: SocketAddr,
    /// Root of the stored objects: one directory per bucket.
    pub data_dir: PathBuf,
    /// Region id without the `oss-` prefix, e.g. `cn-hangzhou`. V4 credentials
    /// must name this region.
    pub region: String,
    pub buckets: Vec<BucketConfig>,
    /// AccessKey pairs the emulator accepts.
    pub credentials: Vec<CredentialConfig>,
    /// Size in bits of the RSA key that signs callbacks when one is generated.
    /// OSS's own key is 512 bits.
    pub callback_key_bits: usize,
    /// PEM file of the callback signing key (PKCS#8 or PKCS#1). Generated and
    /// saved there when missing. Without a path the key is kept in
    /// `<data_dir>/callback_private_key.pem`.
    pub callback_key_path: Option<PathBuf>,
    /// Time budget for one callback exchange: connect, send, and read the
    /// whole response. OSS uses 5 seconds.
    #[serde(with = "duration_serde")]
    pub callback_timeout: Duration,
    /// Serves the JSON test hooks under `/_emulator/`.
    pub test_hooks: bool,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 9000)),
            data_dir: PathBuf::from(".ossgate-emulator"),
            region: "cn-hangzhou".to_owned(),
            buckets: Vec::new(),
            credentials: Vec::new(),
            callback_key_bits: 2048,
            callback_key_path: None,
            callback_timeout: Duration::from_secs(5),
            test_hooks: true,
        }
    }
}

/// One bucket.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BucketConfig {
    pub name: String,
    #[serde(default)]
    pub acl: BucketAcl,
    #[serde(default)]
    pub cors: Vec<CorsRule>,
}

impl BucketConfig {
    /// Creates a private bucket with no CORS rules.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            acl: BucketAcl::Private,
            cors: Vec::new(),
        }
    }
}

/// A bucket's access control list.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum BucketAcl {
    /// Every request must be signed.
    #[default]
    Private,
    /// Anonymous reads; writes must be signed.
    PublicRead,
    /// Anonymous reads and anonymous PostObject without a policy.
    PublicReadWrite,
}

impl BucketAcl {
    /// Returns the value OSS uses in headers and XML: `private`,
    /// `public-read` or `public-read-write`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Private => "private",
            Self::PublicRead => "public-read",
            Self::PublicReadWrite => "public-read-write",
        }
    }

    pub fn allows_anonymous_read(self) -> bool {
        matches!(self, Self::PublicRead | Self::PublicReadWrite)
    }
}

/// One CORS rule, as in OSS's PutBucketCors.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct CorsRule {
    /// Origins such as `https://app.example.com`; each may contain one `*`.
    pub allowed_origins: Vec<String>,
    /// Methods: `GET`, `PUT`, `DELETE`, `POST`, `HEAD`.
    pub allowed_methods: Vec<String>,
    /// Header names allowed in preflight requests; each may contain one `*`.
    pub allowed_headers: Vec<String>,
    /// Response headers the browser may read.
    pub expose_headers: Vec<String>,
    /// How long a browser may cache a preflight result, in seconds.
    pub max_age_seconds: Option<u64>,
}

impl CorsRule {
    /// Creates a rule allowing `origins` to send `methods` with any header,
    /// exposing `ETag` and `x-oss-request-id`, as a browser upload page needs.
    pub fn permissive(origins: &[&str], methods: &[&str]) -> Self {
        Self {
            allowed_origins: origins.iter().map(|s| (*s).to_owned()).collect(),
            allowed_methods: methods.iter().map(|s| (*s).to_owned()).collect(),
            allowed_headers: vec!["*".to_owned()],
            expose_headers: vec!["ETag".to_owned(), "x-oss-request-id".to_owned()],
            max_age_seconds: None,
        }
    }
}

/// An AccessKey pair. With `security_token` set it is an STS pair: requests
/// must carry that token in `x-oss-security-token`.
#[derive(Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CredentialConfig {
    pub access_key_id: String,
    pub access_key_secret: String,
    #[serde(default)]
    pub security_token: Option<String>,
}

impl CredentialConfig {
    pub fn new(access_key_id: impl Into<String>, access_key_secret: impl Into<String>) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            access_key_secret: access_key_secret.into(),
            security_token: None,
        }
    }

    pub fn with_security_token(mut self, token: impl Into<String>) -> Self {
        self.security_token = Some(token.into());
        self
    }
}

/// Keeps the secret and the token out of logs.
impl std::fmt::Debug for CredentialConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialConfig")
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &"<redacted>")
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl EmulatorConfig {
    /// Parses TOML text; fields left out keep their defaults.
    ///
    /// # Errors
    /// [`EmulatorError::Config`] naming the line and field serde rejected, or
    /// the value [`EmulatorConfig::validate`] rejected.
    pub fn from_toml(text: &str) -> Result<Self, EmulatorError> {
        let config: Self =
            toml::from_str(text).map_err(|error| EmulatorError::Config(error.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Reads and parses a TOML file.
    pub fn from_toml_file(path: &std::path::Path) -> Result<Self, EmulatorError> {
        let text = std::fs::read_to_string(path).map_err(|source| EmulatorError::Io {
            action: "read the configuration file",
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text).map_err(|error| match error {
            EmulatorError::Config(message) => {
                EmulatorError::Config(format!("{}: {message}", path.display()))
            }
            other => other,
        })
    }

    pub fn bucket(&self, name: &str) -> Option<&BucketConfig> {
        self.buckets.iter().find(|bucket| bucket.name == name)
    }

    /// Checks what the types cannot express.
    ///
    /// # Errors
    /// [`EmulatorError::Config`] naming the bucket, rule or key id at fault.
    pub fn validate(&self) -> Result<(), EmulatorError> {
        let invalid = |message: String| Err(EmulatorError::Config(message));

        if self.region.is_empty() || self.region.starts_with("oss-") {
            return invalid(format!(
                "invalid region {:?}: give the region id without the oss- prefix, e.g. \"cn-hangzhou\"",
                self.region
            ));
        }
        if !(512..=4096).contains(&self.callback_key_bits) {
            return invalid(format!(
                "invalid callback_key_bits {}: use 512 (the size of OSS's key) to 4096",
                self.callback_key_bits
            ));
        }
        if self.callback_timeout.is_zero() {
            return invalid("callback_timeout must be greater than zero".to_owned());
        }

        for (index, bucket) in self.buckets.iter().enumerate() {
            if let Err(reason) = validate_bucket_name(&bucket.name) {
                return invalid(format!("invalid bucket name {:?}: {reason}", bucket.name));
            }
            if self.buckets[..index].iter().any(|b| b.name == bucket.name) {
                return invalid(format!("bucket {:?} is configured twice", bucket.name));
            }
            for (rule_index, rule) in bucket.cors.iter().enumerate() {
                if let Err(reason) = rule.validate() {
                    return invalid(format!(
                        "invalid CORS rule {} of bucket {:?}: {reason}",
                        rule_index + 1,
                        bucket.name
                    ));
                }
            }
        }

        for (index, credential) in self.credentials.iter().enumerate() {
            if credential.access_key_id.is_empty() || credential.access_key_secret.is_empty() {
                return invalid(format!(
                    "credential {} needs a non-empty access_key_id and access_key_secret",
                    index + 1
                ));
            }
            if self.credentials[..index]
                .iter()
                .any(|c| c.access_key_id == credential.access_key_id)
            {
                return invalid(format!(
                    "AccessKeyId {:?} is configured twice",
                    credential.access_key_id
                ));
            }
        }
        Ok(())
    }
}

impl CorsRule {
    fn validate(&self) -> Result<(), String> {
        if self.allowed_origins.is_empty() {
            return Err("allowed_origins is empty".to_owned());
        }
        if self.allowed_methods.is_empty() {
            return Err("allowed_methods is empty".to_owned());
        }
        for origin in &self.allowed_origins {
            if origin.matches('*').count() > 1 {
                return Err(format!(
                    "allowed origin {origin:?} has more than one '*'; OSS allows one"
                ));
            }
        }
        for header in &self.allowed_headers {
            if header.matches('*').count() > 1 {
                return Err(format!(
                    "allowed header {header:?} has more than one '*'; OSS allows one"
                ));
            }
        }
        for method in &self.allowed_methods {
            if !["GET", "PUT", "DELETE", "POST", "HEAD"].contains(&method.as_str()) {
                return Err(format!(
                    "allowed method {method:?} is not one of GET, PUT, DELETE, POST, HEAD"
                ));
            }
        }
        for header in &self.expose_headers {
            if header.contains('*') {
                return Err(format!(
                    "expose header {header:?} contains '*'; OSS allows no wildcard there"
                ));
            }
        }
        Ok(())
    }
}

/// Checks OSS's bucket naming rules: 3 to 63 characters, lowercase letters,
/// digits and hyphens, starting and ending with a letter or digit.
pub fn validate_bucket_name(name: &str) -> Result<(), &'static str> {
    if !(3..=63).contains(&name.len()) {
        return Err("a bucket name has 3 to 63 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err("a bucket name contains only lowercase letters, digits and hyphens");
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err("a bucket name starts and ends with a letter or digit");
    }
    Ok(())
}

/// Durations in TOML: an integer or float number of seconds, or a string with
/// a unit: `"500ms"`, `"5s"`, `"1m"`.
mod duration_serde {
    use std::time::Duration;

    use serde::de::{self, Deserializer, Visitor};
    use serde::Serializer;

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format!("{}ms", value.as_millis()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        deserializer.deserialize_any(DurationVisitor)
    }

    struct DurationVisitor;

    impl Visitor<'_> for DurationVisitor {
        type Value = Duration;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a number of seconds or a string such as \"500ms\", \"5s\" or \"1m\"")
        }

        fn visit_u64<E: de::Error>(self, secs: u64) -> Result<Duration, E> {
            Ok(Duration::from_secs(secs))
        }

        fn visit_i64<E: de::Error>(self, secs: i64) -> Result<Duration, E> {
            u64::try_from(secs)
                .map(Duration::from_secs)
                .map_err(|_| E::custom(format!("invalid duration {secs}: it is negative")))
        }

        fn visit_f64<E: de::Error>(self, secs: f64) -> Result<Duration, E> {
            Duration::try_from_secs_f64(secs)
                .map_err(|_| E::custom(format!("invalid duration {secs}: use a positive number")))
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
            super::parse_duration(text).map_err(E::custom)
        }
    }
}

/// Parses `"500ms"`, `"5s"`, `"1.5s"`, `"2m"` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, scale) = if let Some(number) = text.strip_suffix("ms") {
        (number, 0.001)
    } else if let Some(number) = text.strip_suffix('s') {
        (number, 1.0)
    } else if let Some(number) = text.strip_suffix('m') {
        (number, 60.0)
    } else {
        (text, 1.0)
    };
    let value: f64 = number.trim().parse().map_err(|_| {
        format!("invalid duration {text:?}: use a number with ms, s or m, e.g. \"5s\"")
    })?;
    Duration::try_from_secs_f64(value * scale)
        .map_err(|_| format!("invalid duration {text:?}: use a positive number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_toml_gives_defaults() {
        let config = EmulatorConfig::from_toml("").unwrap();
        assert_eq!(config.listen, SocketAddr::from(([127, 0, 0, 1], 9000)));
        assert_eq!(config.region, "cn-hangzhou");
        assert_eq!(config.callback_timeout, Duration::from_secs(5));
        assert!(config.test_hooks);
    }

    #[test]
    fn full_toml_parses() {
        let config = EmulatorConfig::from_toml(
            r#"
            listen = "127.0.0.1:9100"
            data_dir = "/tmp/x"
            region = "cn-beijing"
            callback_key_bits = 512
            callback_timeout = "1500ms"
            test_hooks = false

            [[buckets]]
            name = "photos"
            acl = "public-read"
            [[buckets.cors]]
            allowed_origins = ["https://*.example.com"]
            allowed_methods = ["POST", "GET"]
            allowed_headers = ["*"]
            expose_headers = ["ETag"]
            max_age_seconds = 600

            [[credentials]]
            access_key_id = "STS.abc"
            access_key_secret = "secret"
            security_token = "token"
            "#,
        )
        .unwrap();
        assert_eq!(config.callback_timeout, Duration::from_millis(1500));
        assert_eq!(config.buckets[0].acl, BucketAcl::PublicRead);
        assert_eq!(config.buckets[0].cors[0].max_age_seconds, Some(600));
        assert_eq!(
            config.credentials[0].security_token.as_deref(),
            Some("token")
        );
    }

    #[test]
    fn unknown_field_is_rejected() {
        let error = EmulatorConfig::from_toml("regoin = \"cn-hangzhou\"").unwrap_err();
        assert!(error.to_string().contains("regoin"), "{error}");
    }

    #[test]
    fn bad_bucket_name_is_rejected() {
        let error = EmulatorConfig::from_toml("[[buckets]]\nname = \"Photos\"").unwrap_err();
        assert!(error.to_string().contains("\"Photos\""), "{error}");
    }

    #[test]
    fn two_wildcards_in_origin_are_rejected() {
        let error = EmulatorConfig::from_toml(
            "[[buckets]]\nname = \"abc\"\n[[buckets.cors]]\nallowed_origins = [\"https://*.*.com\"]\nallowed_methods = [\"GET\"]",
        )
        .unwrap_err();
        assert!(error.to_string().contains("more than one '*'"), "{error}");
    }

    #[test]
    fn debug_hides_the_secret() {
        let credential = CredentialConfig::new("id", "very-secret").with_security_token("tok");
        let text = format!("{credential:?}");
        assert!(!text.contains("very-secret"));
        assert!(!text.contains("tok\""));
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("soon").is_err());
    }
}
