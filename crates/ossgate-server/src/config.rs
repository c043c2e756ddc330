//! Server settings: a typed, validated [`ServerConfig`] built from layers.
//!
//! The layers, later ones winning: built-in defaults, a TOML file, the
//! environment (`OSSGATE_*`, plus Alibaba Cloud's standard credential
//! variables), and command-line flags. Each layer is a TOML table; the merged
//! table is deserialised into [`RawConfig`] (unknown keys are errors, so typos
//! are caught) and then checked by [`ServerConfig::resolve`], which collects
//! every problem at once and names the setting and the fix for each.
//!
//! Credentials are taken as one group from the first source that sets an
//! AccessKey id: `OSSGATE_ACCESS_KEY_ID`…, then `OSS_ACCESS_KEY_ID`,
//! `OSS_ACCESS_KEY_SECRET`, `OSS_SESSION_TOKEN`, then
//! `ALIBABA_CLOUD_ACCESS_KEY_ID`, `ALIBABA_CLOUD_ACCESS_KEY_SECRET`,
//! `ALIBABA_CLOUD_SECURITY_TOKEN`, then the file. An id from one source is never
//! paired with a secret from another.
//!
//! Secrets (the AccessKey secret, the STS token, the ticket secret, bearer
//! tokens, the JWT secret) never come from flags and are redacted by
//! [`ServerConfig::describe`].

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ossgate_protocol::{Credentials, SignatureVersion};
use serde::Deserialize;
use toml::{Table, Value};
use zeroize::Zeroizing;

/// The longest token lifetime for V4 forms. OSS accepts a V4 form's
/// `x-oss-date` for 15 minutes, and a token's `x-oss-date` is its issue time.
pub const MAX_V4_TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// An example trusted key URL prefix: the path the emulator serves its
/// callback public key at, which no upload can write to.
const EXAMPLE_KEY_URL_PREFIX: &str = "http://127.0.0.1:9000/callback_pub_key_v1.pem";

/// The text [`ServerConfig::describe`] prints for a secret that is set.
const REDACTED: &str = "<redacted>";

/// The text [`ServerConfig::describe`] prints for a secret that is not set.
const NOT_SET: &str = "<not set>";

/// The default route of the OSS callback in `ossgate dev`. Otherwise the route
/// is `callback.path`, or the path of `callback.url` when that is unset.
pub const DEFAULT_CALLBACK_PATH: &str = "/api/oss/callback";

/// Whether the settings are for production (`ossgate serve`) or for
/// `ossgate dev`, where the dev command supplies the bucket, credentials,
/// callback URL and ticket secret itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Serve,
    Dev,
}

/// One invalid or missing setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The setting as written in the TOML file, e.g. `upload.max_size`.
    pub setting: String,
    /// The problem and its fix.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.setting, self.message)
    }
}

/// Every problem found while loading the settings.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration:")?;
        for error in &self.0 {
            write!(f, "\n  - {error}")?;
        }
        Ok(())
    }
}

impl ConfigErrors {
    /// Creates the errors for one problem with one setting.
    pub fn single(setting: &str, message: impl Into<String>) -> Self {
        Self(vec![ConfigError {
            setting: setting.to_owned(),
            message: message.into(),
        }])
    }
}

/// The settings as read from the merged layers, before validation.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub listen: Option<String>,
    pub database: Option<String>,
    pub cors_origins: Option<Vec<String>>,
    #[serde(default)]
    pub oss: RawOss,
    #[serde(default)]
    pub upload: RawUpload,
    #[serde(default)]
    pub callback: RawCallback,
    #[serde(default)]
    pub auth: RawAuth,
    #[serde(default)]
    pub http: RawHttp,
}

/// `[oss]`: the bucket and the credentials forms are signed with.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOss {
    pub bucket: Option<String>,
    pub region: Option<String>,
    pub bucket_url: Option<String>,
    pub signature_version: Option<Value>,
    pub access_key_id: Option<String>,
    pub access_key_secret: Option<String>,
    pub security_token: Option<String>,
}

/// `[upload]`: what a token allows.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUpload {
    pub dir: Option<String>,
    pub max_size: Option<u64>,
    pub content_types: Option<Vec<String>>,
    pub key_strategy: Option<String>,
    pub token_lifetime: Option<u64>,
    pub presign_lifetime: Option<u64>,
}

/// `[callback]`: where OSS calls back and how callbacks are verified.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCallback {
    pub url: Option<String>,
    pub host: Option<String>,
    pub sni: Option<bool>,
    pub path: Option<String>,
    pub public_path_prefix: Option<String>,
    pub trusted_key_url_prefixes: Option<Vec<String>>,
    pub ticket_secret: Option<String>,
    pub ticket_grace: Option<u64>,
    pub body_limit: Option<usize>,
}

/// `[auth]`: how API callers are identified.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    pub mode: Option<String>,
    /// A table of token = user id. Any other value is reported by
    /// [`ServerConfig::resolve`], so a placeholder string gets its own message.
    pub tokens: Option<Value>,
    pub jwt_secret: Option<String>,
    pub jwt_public_key_file: Option<PathBuf>,
    pub jwt_issuer: Option<String>,
    pub jwt_audience: Option<String>,
}

/// `[http]`: limits for every API request.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    pub request_timeout: Option<u64>,
    pub body_limit: Option<usize>,
}

/// The strategy for choosing an upload's object key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyStrategy {
    /// The server picks `<dir><random id>.<ext>`, keeping the file's extension.
    Unique,
    /// The form sends `<dir>${filename}` and OSS substitutes the file's name.
    Filename,
}

impl KeyStrategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unique => "unique",
            Self::Filename => "filename",
        }
    }
}

/// The way API callers are identified.
#[derive(Clone)]
pub enum AuthConfig {
    /// Everyone is the user `dev`. Meant for `ossgate dev`.
    None,
    /// `Authorization: Bearer <token>` with static tokens mapped to user ids.
    Bearer {
        tokens: Vec<(Zeroizing<String>, String)>,
    },
    /// `Authorization: Bearer <JWT>`; the `sub` claim is the user id.
    Jwt(JwtConfig),
}

/// The key and the claims a JWT is checked against.
#[derive(Clone)]
pub struct JwtConfig {
    pub key: JwtKey,
    pub issuer: Option<String>,
    pub audience: Option<String>,
}

/// The JWT verification key.
#[derive(Clone)]
pub enum JwtKey {
    /// HS256 with a shared secret.
    Hs256(Zeroizing<String>),
    /// RS256 with a PEM public key, kept with the file it came from.
    Rs256 { pem: String, path: PathBuf },
}

impl AuthConfig {
    /// Returns the mode name the API reports: `none`, `bearer` or `jwt`.
    pub fn mode_name(&self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Bearer { .. } => "bearer",
            Self::Jwt(_) => "jwt",
        }
    }
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Bearer { tokens } => write!(f, "Bearer({} tokens)", tokens.len()),
            Self::Jwt(jwt) => match &jwt.key {
                JwtKey::Hs256(_) => f.write_str("Jwt(HS256)"),
                JwtKey::Rs256 { path, .. } => write!(f, "Jwt(RS256 {})", path.display()),
            },
        }
    }
}

/// The path of the SQLite database file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatabasePath(pub PathBuf);

/// The validated settings of one app server.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub mode: Mode,
    pub listen: SocketAddr,
    pub database: DatabasePath,
    /// Origins allowed to call the API from a browser; `["*"]` allows any
    /// origin (credentials are never allowed).
    pub cors_origins: Vec<String>,

    pub bucket: String,
    /// The region without the `oss-` prefix, e.g. `cn-hangzhou`.
    pub region: String,
    /// The URL browsers POST forms to, with no trailing slash.
    pub bucket_url: String,
    pub signature_version: SignatureVersion,
    pub credentials: Credentials,

    /// The directory template, e.g. `uploads/{user}/{date}/`.
    pub upload_dir: String,
    pub max_size: u64,
    /// Allowed content types; empty allows any.
    pub content_types: Vec<String>,
    pub key_strategy: KeyStrategy,
    pub token_lifetime: Duration,
    /// How long presigned GET URLs in responses stay valid.
    pub presign_lifetime: Duration,

    /// The public URL OSS posts callbacks to.
    pub callback_url: String,
    pub callback_host: Option<String>,
    pub callback_sni: Option<bool>,
    /// The route the callback is served on, e.g. `/api/oss/callback`. The
    /// callback URL's path is always `public_path_prefix` + this route.
    pub callback_path: String,
    /// Prepended to the request target before verification, for servers
    /// behind a reverse proxy that strips a path prefix (e.g. `/ossgate`).
    pub public_path_prefix: String,
    /// Key URL prefixes trusted besides OSS's own.
    pub trusted_key_url_prefixes: Vec<String>,
    pub ticket_secret: Zeroizing<Vec<u8>>,
    /// How long after the token expired its callback is still accepted, for
    /// uploads that started in time but took long.
    pub ticket_grace: Duration,
    pub callback_body_limit: usize,

    pub auth: AuthConfig,

    pub request_timeout: Duration,
    pub body_limit: usize,
}

/// Layers of raw settings, merged in order: file, environment, overrides.
#[derive(Clone, Debug, Default)]
pub struct ConfigSources {
    pub file: Option<PathBuf>,
    /// Environment variables. Only the ones listed in this module are read.
    pub env: Vec<(String, String)>,
    /// Values from command-line flags or the dev command, as dotted paths.
    pub overrides: Table,
}

/// The kind of TOML value an environment variable's text is parsed into.
#[derive(Clone, Copy)]
enum EnvKind {
    Text,
    Integer,
    Boolean,
    /// Comma-separated; a blank entry is an error.
    List,
    /// `token=user,token2=user2`.
    Map,
}

/// The `OSSGATE_*` variables and the setting each one sets.
const ENV_SETTINGS: &[(&str, &str, EnvKind)] = &[
    ("OSSGATE_LISTEN", "listen", EnvKind::Text),
    ("OSSGATE_DATABASE", "database", EnvKind::Text),
    ("OSSGATE_CORS_ORIGINS", "cors_origins", EnvKind::List),
    ("OSSGATE_BUCKET", "oss.bucket", EnvKind::Text),
    ("OSSGATE_REGION", "oss.region", EnvKind::Text),
    ("OSSGATE_BUCKET_URL", "oss.bucket_url", EnvKind::Text),
    (
        "OSSGATE_SIGNATURE_VERSION",
        "oss.signature_version",
        EnvKind::Text,
    ),
    ("OSSGATE_UPLOAD_DIR", "upload.dir", EnvKind::Text),
    ("OSSGATE_MAX_SIZE", "upload.max_size", EnvKind::Integer),
    (
        "OSSGATE_CONTENT_TYPES",
        "upload.content_types",
        EnvKind::List,
    ),
    ("OSSGATE_KEY_STRATEGY", "upload.key_strategy", EnvKind::Text),
    (
        "OSSGATE_TOKEN_LIFETIME",
        "upload.token_lifetime",
        EnvKind::Integer,
    ),
    (
        "OSSGATE_PRESIGN_LIFETIME",
        "upload.presign_lifetime",
        EnvKind::Integer,
    ),
    ("OSSGATE_CALLBACK_URL", "callback.url", EnvKind::Text),
    ("OSSGATE_CALLBACK_HOST", "callback.host", EnvKind::Text),
    ("OSSGATE_CALLBACK_SNI", "callback.sni", EnvKind::Boolean),
    ("OSSGATE_CALLBACK_PATH", "callback.path", EnvKind::Text),
    (
        "OSSGATE_PUBLIC_PATH_PREFIX",
        "callback.public_path_prefix",
        EnvKind::Text,
    ),
    (
        "OSSGATE_TRUSTED_KEY_URL_PREFIXES",
        "callback.trusted_key_url_prefixes",
        EnvKind::List,
    ),
    (
        "OSSGATE_TICKET_SECRET",
        "callback.ticket_secret",
        EnvKind::Text,
    ),
    (
        "OSSGATE_TICKET_GRACE",
        "callback.ticket_grace",
        EnvKind::Integer,
    ),
    (
        "OSSGATE_CALLBACK_BODY_LIMIT",
        "callback.body_limit",
        EnvKind::Integer,
    ),
    ("OSSGATE_AUTH_MODE", "auth.mode", EnvKind::Text),
    ("OSSGATE_AUTH_TOKENS", "auth.tokens", EnvKind::Map),
    ("OSSGATE_JWT_SECRET", "auth.jwt_secret", EnvKind::Text),
    (
        "OSSGATE_JWT_PUBLIC_KEY_FILE",
        "auth.jwt_public_key_file",
        EnvKind::Text,
    ),
    ("OSSGATE_JWT_ISSUER", "auth.jwt_issuer", EnvKind::Text),
    ("OSSGATE_JWT_AUDIENCE", "auth.jwt_audience", EnvKind::Text),
    (
        "OSSGATE_REQUEST_TIMEOUT",
        "http.request_timeout",
        EnvKind::Integer,
    ),
    ("OSSGATE_BODY_LIMIT", "http.body_limit", EnvKind::Integer),
];

/// Credential variable groups, highest priority first: id, secret, STS token.
const CREDENTIAL_ENV_GROUPS: &[[&str; 3]] = &[
    [
        "OSSGATE_ACCESS_KEY_ID",
        "OSSGATE_ACCESS_KEY_SECRET",
        "OSSGATE_SECURITY_TOKEN",
    ],
    [
        "OSS_ACCESS_KEY_ID",
        "OSS_ACCESS_KEY_SECRET",
        "OSS_SESSION_TOKEN",
    ],
    [
        "ALIBABA_CLOUD_ACCESS_KEY_ID",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
        "ALIBABA_CLOUD_SECURITY_TOKEN",
    ],
];

impl ConfigSources {
    /// Sources with the process environment.
    pub fn from_process_env(file: Option<PathBuf>) -> Self {
        Self {
            file,
            env: std::env::vars().collect(),
            overrides: Table::new(),
        }
    }

    /// Sets one override, e.g. `set("upload.max_size", 1024)`.
    pub fn set(&mut self, path: &str, value: impl Into<Value>) {
        insert_path(&mut self.overrides, path, value.into());
    }

    /// Merges the layers and deserialises them.
    ///
    /// # Errors
    ///
    /// A file that cannot be read or parsed, an environment variable with the
    /// wrong kind of value, or an unknown or mistyped setting.
    pub fn load(&self) -> Result<RawConfig, ConfigErrors> {
        let mut merged = Table::new();

        // The file.
        if let Some(path) = &self.file {
            let text = std::fs::read_to_string(path).map_err(|error| {
                ConfigErrors::single(
                    "--config",
                    format!(
                        "cannot read {}: {error}; check the path given to --config",
                        path.display()
                    ),
                )
            })?;
            let table: Table = toml::from_str(&text).map_err(|error| {
                ConfigErrors::single(
                    "--config",
                    format!("{} is not valid TOML: {}", path.display(), error.message()),
                )
            })?;
            merge(&mut merged, table);
        }

        // The environment.
        merge(&mut merged, self.env_table()?);

        // Flags and programmatic overrides.
        merge(&mut merged, self.overrides.clone());

        RawConfig::deserialize(Value::Table(merged)).map_err(|error| {
            ConfigErrors::single(
                "configuration",
                format!("{error}; see the settings listed by `ossgate config check --help`"),
            )
        })
    }

    /// Warnings for `OSSGATE_*` environment variables that no setting reads,
    /// such as the typo `OSSGATE_MAX_SIZ`, each naming the closest known
    /// variable when one is close. Such variables are ignored, so without a
    /// warning a typo silently leaves the default in place.
    pub fn unknown_env_warnings(&self) -> Vec<String> {
        let mut names: Vec<&str> = self
            .env
            .iter()
            .map(|(name, _)| name.as_str())
            .filter(|name| name.starts_with("OSSGATE_") && !is_known_env_name(name))
            .collect();
        names.sort_unstable();
        names.dedup();
        names
            .into_iter()
            .map(|name| match closest_env_name(name) {
                Some(known) => format!(
                    "unknown environment variable {name} is ignored: did you mean {known}? \
                     See the table of environment variables in the README"
                ),
                None => format!(
                    "unknown environment variable {name} is ignored: see the table of \
                     environment variables in the README"
                ),
            })
            .collect()
    }

    fn env_var(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .filter(|value| !value.is_empty())
    }

    fn env_table(&self) -> Result<Table, ConfigErrors> {
        let mut table = Table::new();
        let mut errors = Vec::new();

        for (name, path, kind) in ENV_SETTINGS {
            let Some(text) = self.env_var(name) else {
                continue;
            };
            match env_value(text, *kind) {
                Ok(value) => insert_path(&mut table, path, value),
                Err(reason) => errors.push(ConfigError {
                    setting: (*name).to_owned(),
                    message: format!("invalid value {text:?} for {path}: {reason}"),
                }),
            }
        }

        // The first credential group that names an AccessKey id wins as a whole.
        if let Some(group) = CREDENTIAL_ENV_GROUPS
            .iter()
            .find(|group| self.env_var(group[0]).is_some())
        {
            let [id, secret, token] = group;
            insert_path(
                &mut table,
                "oss.access_key_id",
                self.env_var(id).unwrap_or("").into(),
            );
            if let Some(value) = self.env_var(secret) {
                insert_path(&mut table, "oss.access_key_secret", value.into());
            } else {
                errors.push(ConfigError {
                    setting: (*secret).to_owned(),
                    message: format!("{id} is set but {secret} is not; set both"),
                });
            }
            if let Some(value) = self.env_var(token) {
                insert_path(&mut table, "oss.security_token", value.into());
            }
        }

        if errors.is_empty() {
            Ok(table)
        } else {
            Err(ConfigErrors(errors))
        }
    }
}

/// Parses an environment variable's text into a TOML value, or returns why
/// the text is invalid.
fn env_value(text: &str, kind: EnvKind) -> Result<Value, &'static str> {
    let text = text.trim();
    match kind {
        EnvKind::Text => Ok(Value::String(text.to_owned())),
        EnvKind::Integer => text
            .parse::<i64>()
            .map(Value::Integer)
            .map_err(|_| "expected a whole number"),
        EnvKind::Boolean => match text.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Ok(Value::Boolean(true)),
            "false" | "0" | "no" => Ok(Value::Boolean(false)),
            _ => Err("expected true or false"),
        },
        // A blank list or entry is rejected rather than dropped, because an
        // empty content type list allows every type: a stray comma or space
        // must not widen what uploads may contain.
        EnvKind::List => {
            if text.is_empty() {
                return Err("the list is blank: give comma-separated values, or unset \
                            the variable to use the default");
            }
            let items: Vec<&str> = text.split(',').map(str::trim).collect();
            if items.iter().any(|item| item.is_empty()) {
                return Err("the list has an empty entry: remove the extra comma or \
                            space between the comma-separated values");
            }
            Ok(Value::Array(
                items
                    .into_iter()
                    .map(|item| Value::String(item.to_owned()))
                    .collect(),
            ))
        }
        EnvKind::Map => {
            let mut map = Table::new();
            for pair in text
                .split(',')
                .map(str::trim)
                .filter(|pair| !pair.is_empty())
            {
                let (key, value) = pair
                    .split_once('=')
                    .ok_or("expected comma-separated token=user pairs")?;
                map.insert(
                    key.trim().to_owned(),
                    Value::String(value.trim().to_owned()),
                );
            }
            Ok(Value::Table(map))
        }
    }
}

/// Returns every `OSSGATE_*` variable the server reads.
fn known_env_names() -> impl Iterator<Item = &'static str> {
    ENV_SETTINGS
        .iter()
        .map(|(name, _, _)| *name)
        .chain(CREDENTIAL_ENV_GROUPS[0])
}

fn is_known_env_name(name: &str) -> bool {
    known_env_names().any(|known| known == name)
}

/// Returns the known variable a mistyped `OSSGATE_*` name most likely means:
/// the nearest by edit distance if at most 2 edits away (3 for long names),
/// else one whose words include every word of `name`, so `OSSGATE_DIR`
/// suggests `OSSGATE_UPLOAD_DIR`.
fn closest_env_name(name: &str) -> Option<&'static str> {
    let suffix = name.strip_prefix("OSSGATE_").unwrap_or(name);
    let max_distance = if suffix.len() > 12 { 3 } else { 2 };
    let nearest = known_env_names()
        .map(|known| (strsim::levenshtein(name, known), known))
        .min_by_key(|(distance, _)| *distance)
        .filter(|(distance, _)| *distance <= max_distance)
        .map(|(_, known)| known);
    if nearest.is_some() {
        return nearest;
    }

    let words: Vec<&str> = suffix.split('_').filter(|word| !word.is_empty()).collect();
    if words.is_empty() {
        return None;
    }
    known_env_names().find(|known| {
        let known_words: Vec<&str> = known["OSSGATE_".len()..].split('_').collect();
        words.iter().all(|word| known_words.contains(word))
    })
}

fn insert_path(table: &mut Table, path: &str, value: Value) {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().unwrap_or(path);
    let mut current = table;
    for part in parts {
        let entry = current
            .entry(part.to_owned())
            .or_insert_with(|| Value::Table(Table::new()));
        if !entry.is_table() {
            *entry = Value::Table(Table::new());
        }
        let Value::Table(next) = entry else {
            unreachable!("the entry was just made a table")
        };
        current = next;
    }
    current.insert(last.to_owned(), value);
}

fn merge(base: &mut Table, over: Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(Value::Table(base_table)), Value::Table(over_table)) => {
                merge(base_table, over_table)
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Collects problems while resolving, so all of them are reported at once.
#[derive(Default)]
struct Problems(Vec<ConfigError>);

impl Problems {
    fn add(&mut self, setting: &str, message: impl Into<String>) {
        self.0.push(ConfigError {
            setting: setting.to_owned(),
            message: message.into(),
        });
    }
}

impl ServerConfig {
    /// Validates raw settings for `mode`.
    ///
    /// # Errors
    ///
    /// Every missing or invalid setting, each with what to do about it.
    pub fn resolve(raw: RawConfig, mode: Mode) -> Result<Self, ConfigErrors> {
        let mut problems = Problems::default();

        let listen = parse_listen(raw.listen.as_deref(), &mut problems);
        let database = parse_database(raw.database.as_deref(), &mut problems);
        let cors_origins = parse_cors_origins(raw.cors_origins.unwrap_or_default(), &mut problems);

        // [oss]
        let RawOss {
            bucket,
            region,
            bucket_url,
            signature_version,
            access_key_id,
            access_key_secret,
            security_token,
        } = raw.oss;
        let bucket = match bucket {
            Some(bucket) => {
                if let Err(reason) = check_bucket_name(&bucket) {
                    problems.add(
                        "oss.bucket",
                        format!("invalid bucket name {bucket:?}: {reason}"),
                    );
                }
                bucket
            }
            None => {
                problems.add(
                    "oss.bucket",
                    "missing: set oss.bucket in the config file, OSSGATE_BUCKET or --bucket",
                );
                String::new()
            }
        };
        let region = match region {
            Some(region) if !region.trim().is_empty() => {
                match ossgate_protocol::v4::parse_region(region.trim()) {
                    Ok(region) => region.to_owned(),
                    Err(error) => {
                        problems.add("oss.region", error.to_string());
                        String::new()
                    }
                }
            }
            _ => {
                problems.add(
                    "oss.region",
                    "missing: set oss.region (e.g. \"cn-hangzhou\") in the config file, \
                     OSSGATE_REGION or --region",
                );
                String::new()
            }
        };
        let bucket_url = match bucket_url {
            Some(url) => {
                let url = url.trim().trim_end_matches('/').to_owned();
                if let Err(reason) = check_http_url(&url) {
                    problems.add("oss.bucket_url", format!("invalid URL {url:?}: {reason}"));
                }
                url
            }
            None => format!("https://{bucket}.oss-{region}.aliyuncs.com"),
        };
        let signature_version = parse_signature_version(signature_version, &mut problems);
        let credentials = parse_credentials(
            access_key_id,
            access_key_secret,
            security_token,
            &mut problems,
        );

        // [upload]
        let upload_dir = raw
            .upload
            .dir
            .unwrap_or_else(|| "uploads/{user}/{date}/".to_owned());
        if let Err(reason) = check_dir_template(&upload_dir) {
            problems.add(
                "upload.dir",
                format!("invalid template {upload_dir:?}: {reason}"),
            );
        }
        let max_size = raw.upload.max_size.unwrap_or(10 * 1024 * 1024);
        if max_size == 0 || max_size > 5 * 1024 * 1024 * 1024 {
            problems.add(
                "upload.max_size",
                format!(
                    "{max_size} is out of range: give a size in bytes from 1 to 5 GiB (5368709120)"
                ),
            );
        }
        let content_types =
            parse_content_types(raw.upload.content_types.unwrap_or_default(), &mut problems);
        let key_strategy = match raw.upload.key_strategy.as_deref().unwrap_or("unique") {
            "unique" => KeyStrategy::Unique,
            "filename" => KeyStrategy::Filename,
            other => {
                problems.add(
                    "upload.key_strategy",
                    format!("unknown strategy {other:?}: use \"unique\" or \"filename\""),
                );
                KeyStrategy::Unique
            }
        };
        let token_lifetime = seconds_in_range(
            "upload.token_lifetime",
            raw.upload.token_lifetime.unwrap_or(300),
            1,
            7 * 24 * 3600,
            &mut problems,
        );
        if signature_version == SignatureVersion::V4 && token_lifetime > MAX_V4_TOKEN_LIFETIME {
            problems.add(
                "upload.token_lifetime",
                format!(
                    "{} s is too long for V4 forms: OSS rejects a form whose x-oss-date is more \
                     than {} s old, so use at most {} or set oss.signature_version = 1",
                    token_lifetime.as_secs(),
                    MAX_V4_TOKEN_LIFETIME.as_secs(),
                    MAX_V4_TOKEN_LIFETIME.as_secs()
                ),
            );
        }
        let presign_lifetime = seconds_in_range(
            "upload.presign_lifetime",
            raw.upload.presign_lifetime.unwrap_or(3600),
            1,
            7 * 24 * 3600,
            &mut problems,
        );

        // [callback]
        let callback_url = match raw.callback.url {
            Some(url) => {
                if let Err(reason) = check_http_url(&url) {
                    problems.add("callback.url", format!("invalid URL {url:?}: {reason}"));
                }
                url
            }
            None => {
                problems.add(
                    "callback.url",
                    "missing: set the public URL OSS can reach, e.g. \
                     \"https://app.example.com/api/oss/callback\", in callback.url or \
                     OSSGATE_CALLBACK_URL",
                );
                String::new()
            }
        };
        let public_path_prefix = raw.callback.public_path_prefix.unwrap_or_default();
        let mut prefix_is_valid = true;
        if !public_path_prefix.is_empty()
            && (!public_path_prefix.starts_with('/')
                || public_path_prefix.ends_with('/')
                || public_path_prefix.contains(['?', '#']))
        {
            problems.add(
                "callback.public_path_prefix",
                format!(
                    "invalid prefix {public_path_prefix:?}: give the path the reverse proxy \
                     strips, starting with '/' and without a trailing '/', e.g. \"/ossgate\""
                ),
            );
            prefix_is_valid = false;
        } else if mode == Mode::Dev && !public_path_prefix.is_empty() {
            // The emulator posts callbacks to the app server directly, so no
            // proxy strips the prefix and every signature check would fail.
            problems.add(
                "callback.public_path_prefix",
                format!(
                    "{public_path_prefix:?} is set, but `ossgate dev` has no reverse proxy: \
                     unset callback.public_path_prefix for dev mode"
                ),
            );
            prefix_is_valid = false;
        }
        let callback_path = match raw.callback.path {
            Some(path) => {
                if let Err(reason) = check_callback_path(&path) {
                    problems.add("callback.path", format!("invalid route {path:?}: {reason}"));
                } else if prefix_is_valid {
                    check_callback_url_path(
                        &callback_url,
                        &public_path_prefix,
                        &path,
                        &mut problems,
                    );
                }
                path
            }
            None if prefix_is_valid => {
                derive_callback_path(&callback_url, &public_path_prefix, &mut problems)
            }
            None => DEFAULT_CALLBACK_PATH.to_owned(),
        };
        let trusted_key_url_prefixes = raw.callback.trusted_key_url_prefixes.unwrap_or_default();
        for prefix in &trusted_key_url_prefixes {
            if let Err(reason) = check_key_url_prefix(prefix) {
                problems.add(
                    "callback.trusted_key_url_prefixes",
                    format!("invalid prefix {prefix:?}: {reason}"),
                );
            } else if key_url_prefix_covers_bucket(prefix, &bucket_url, &bucket) {
                problems.add(
                    "callback.trusted_key_url_prefixes",
                    format!(
                        "prefix {prefix:?} overlaps the bucket URL {bucket_url:?}, addressed \
                         path-style or virtual-hosted: uploaders can write objects there, so \
                         anyone could upload an RSA public key and forge callbacks signed with \
                         it. Trust only the URL of the key itself, on a path no upload can \
                         reach, e.g. \"{EXAMPLE_KEY_URL_PREFIX}\" for a local emulator"
                    ),
                );
            }
        }
        check_not_placeholder(
            "callback.ticket_secret",
            raw.callback.ticket_secret.as_deref(),
            &mut problems,
        );
        let ticket_secret = match raw.callback.ticket_secret {
            // Reported above as a placeholder, so no "too short" as well.
            Some(secret) if is_placeholder(&secret) => Zeroizing::new(Vec::new()),
            Some(secret) if secret.len() >= 32 => Zeroizing::new(secret.into_bytes()),
            Some(_) => {
                problems.add(
                    "callback.ticket_secret",
                    "too short: use at least 32 random characters, e.g. the output of \
                     `openssl rand -hex 32`, in OSSGATE_TICKET_SECRET",
                );
                Zeroizing::new(Vec::new())
            }
            None => {
                problems.add(
                    "callback.ticket_secret",
                    "missing: set OSSGATE_TICKET_SECRET to at least 32 random characters, e.g. \
                     the output of `openssl rand -hex 32`",
                );
                Zeroizing::new(Vec::new())
            }
        };
        let ticket_grace = Duration::from_secs(raw.callback.ticket_grace.unwrap_or(900));
        let callback_body_limit = raw.callback.body_limit.unwrap_or(16 * 1024);
        if !(1024..=1024 * 1024).contains(&callback_body_limit) {
            problems.add(
                "callback.body_limit",
                format!("{callback_body_limit} is out of range: give bytes from 1024 to 1048576"),
            );
        }

        // [auth]
        let auth = parse_auth(raw.auth, mode, &mut problems);

        // [http]
        let request_timeout = seconds_in_range(
            "http.request_timeout",
            raw.http.request_timeout.unwrap_or(10),
            1,
            3600,
            &mut problems,
        );
        let body_limit = raw.http.body_limit.unwrap_or(64 * 1024);
        if !(1024..=16 * 1024 * 1024).contains(&body_limit) {
            problems.add(
                "http.body_limit",
                format!("{body_limit} is out of range: give bytes from 1024 to 16777216"),
            );
        }

        if !problems.0.is_empty() {
            return Err(ConfigErrors(problems.0));
        }
        Ok(Self {
            mode,
            listen,
            database,
            cors_origins,
            bucket,
            region,
            bucket_url,
            signature_version,
            credentials,
            upload_dir,
            max_size,
            content_types,
            key_strategy,
            token_lifetime,
            presign_lifetime,
            callback_url,
            callback_host: raw.callback.host,
            callback_sni: raw.callback.sni,
            callback_path,
            public_path_prefix,
            trusted_key_url_prefixes,
            ticket_secret,
            ticket_grace,
            callback_body_limit,
            auth,
            request_timeout,
            body_limit,
        })
    }

    /// Loads and validates settings from `sources`.
    ///
    /// # Errors
    ///
    /// See [`ConfigSources::load`] and [`ServerConfig::resolve`].
    pub fn load(sources: &ConfigSources, mode: Mode) -> Result<Self, ConfigErrors> {
        Self::resolve(sources.load()?, mode)
    }

    /// A warning for the operator when the callback URL names a host OSS
    /// will not call: OSS refuses callbacks to loopback and private addresses.
    /// Always `None` in dev mode, where the emulator calls back locally.
    pub fn callback_url_warning(&self) -> Option<String> {
        if self.mode == Mode::Dev {
            return None;
        }
        let url = url::Url::parse(&self.callback_url).ok()?;
        let host = url.host()?;
        let private = match host {
            url::Host::Domain(name) => {
                let name = name.to_ascii_lowercase();
                name == "localhost" || name.ends_with(".localhost") || name.ends_with(".local")
            }
            url::Host::Ipv4(ip) => is_non_public(IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => is_non_public(IpAddr::V6(ip)),
        };
        private.then(|| {
            format!(
                "callback.url {:?} is a loopback or private address: OSS refuses to call back \
                 there, so uploads will end in CallbackFailed; set a public URL",
                self.callback_url
            )
        })
    }

    /// Renders the effective settings as TOML text, with every secret redacted.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        let line = |out: &mut String, key: &str, value: String| {
            out.push_str(key);
            out.push_str(" = ");
            out.push_str(&value);
            out.push('\n');
        };
        let quote = |text: &str| Value::String(text.to_owned()).to_string();
        let list = |items: &[String]| {
            Value::Array(
                items
                    .iter()
                    .map(|item| Value::String(item.clone()))
                    .collect(),
            )
            .to_string()
        };
        let redacted = |present: bool| quote(if present { REDACTED } else { NOT_SET });

        out.push_str(match self.mode {
            Mode::Serve => "# Effective settings for `ossgate serve`; secrets are redacted.\n",
            Mode::Dev => "# Effective settings for `ossgate dev`; secrets are redacted.\n",
        });
        line(&mut out, "listen", quote(&self.listen.to_string()));
        line(
            &mut out,
            "database",
            quote(&self.database.0.display().to_string()),
        );
        line(&mut out, "cors_origins", list(&self.cors_origins));

        out.push_str("\n[oss]\n");
        line(&mut out, "bucket", quote(&self.bucket));
        line(&mut out, "region", quote(&self.region));
        line(&mut out, "bucket_url", quote(&self.bucket_url));
        line(
            &mut out,
            "signature_version",
            quote(version_name(self.signature_version)),
        );
        line(
            &mut out,
            "access_key_id",
            quote(&self.credentials.access_key_id),
        );
        line(&mut out, "access_key_secret", redacted(true));
        line(
            &mut out,
            "security_token",
            redacted(self.credentials.security_token.is_some()),
        );

        out.push_str("\n[upload]\n");
        line(&mut out, "dir", quote(&self.upload_dir));
        line(&mut out, "max_size", self.max_size.to_string());
        if self.content_types.is_empty() {
            line(
                &mut out,
                "content_types",
                "[] # empty: any content type is allowed".to_owned(),
            );
        } else {
            line(&mut out, "content_types", list(&self.content_types));
        }
        line(&mut out, "key_strategy", quote(self.key_strategy.as_str()));
        line(
            &mut out,
            "token_lifetime",
            self.token_lifetime.as_secs().to_string(),
        );
        line(
            &mut out,
            "presign_lifetime",
            self.presign_lifetime.as_secs().to_string(),
        );

        out.push_str("\n[callback]\n");
        line(&mut out, "url", quote(&self.callback_url));
        if let Some(host) = &self.callback_host {
            line(&mut out, "host", quote(host));
        }
        if let Some(sni) = self.callback_sni {
            line(&mut out, "sni", sni.to_string());
        }
        line(&mut out, "path", quote(&self.callback_path));
        line(
            &mut out,
            "public_path_prefix",
            quote(&self.public_path_prefix),
        );
        line(
            &mut out,
            "trusted_key_url_prefixes",
            list(&self.trusted_key_url_prefixes),
        );
        line(
            &mut out,
            "ticket_secret",
            redacted(!self.ticket_secret.is_empty()),
        );
        line(
            &mut out,
            "ticket_grace",
            self.ticket_grace.as_secs().to_string(),
        );
        line(&mut out, "body_limit", self.callback_body_limit.to_string());

        out.push_str("\n[auth]\n");
        line(&mut out, "mode", quote(self.auth.mode_name()));
        match &self.auth {
            AuthConfig::None => {}
            AuthConfig::Bearer { tokens } => {
                let users: Vec<String> = tokens.iter().map(|(_, user)| user.clone()).collect();
                line(
                    &mut out,
                    "tokens",
                    format!("{} # users: {}", redacted(true), list(&users)),
                );
            }
            AuthConfig::Jwt(jwt) => {
                match &jwt.key {
                    JwtKey::Hs256(_) => line(&mut out, "jwt_secret", redacted(true)),
                    JwtKey::Rs256 { path, .. } => line(
                        &mut out,
                        "jwt_public_key_file",
                        quote(&path.display().to_string()),
                    ),
                }
                if let Some(issuer) = &jwt.issuer {
                    line(&mut out, "jwt_issuer", quote(issuer));
                }
                if let Some(audience) = &jwt.audience {
                    line(&mut out, "jwt_audience", quote(audience));
                }
            }
        }

        out.push_str("\n[http]\n");
        line(
            &mut out,
            "request_timeout",
            self.request_timeout.as_secs().to_string(),
        );
        line(&mut out, "body_limit", self.body_limit.to_string());
        out
    }
}

/// The name a signature version has in settings and in the API: `v1` or `v4`.
pub fn version_name(version: SignatureVersion) -> &'static str {
    match version {
        SignatureVersion::V1 => "v1",
        SignatureVersion::V4 => "v4",
    }
}

fn is_non_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => {
            ip.is_loopback()
                || ip.is_private()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.octets()[0] == 100 && (64..128).contains(&ip.octets()[1])
        }
        IpAddr::V6(ip) => {
            ip.is_loopback()
                || ip.is_unspecified()
                || (ip.segments()[0] & 0xfe00) == 0xfc00
                || (ip.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

fn parse_listen(value: Option<&str>, problems: &mut Problems) -> SocketAddr {
    let default = SocketAddr::from(([127, 0, 0, 1], 8080));
    match value {
        None => default,
        Some(text) => text.parse().unwrap_or_else(|_| {
            problems.add(
                "listen",
                format!("invalid address {text:?}: give IP:PORT, e.g. \"127.0.0.1:8080\""),
            );
            default
        }),
    }
}

fn parse_database(value: Option<&str>, problems: &mut Problems) -> DatabasePath {
    let text = value.unwrap_or("ossgate.db");
    if text.starts_with("postgres:") || text.starts_with("postgresql:") {
        // NOTE: the schema is written to work on PostgreSQL too, but only the
        // SQLite driver is wired up.
        problems.add(
            "database",
            "PostgreSQL is not supported yet: give the path of a SQLite file, e.g. \"ossgate.db\"",
        );
    }
    let path = text
        .strip_prefix("sqlite://")
        .or_else(|| text.strip_prefix("sqlite:"))
        .unwrap_or(text);
    if path.is_empty() {
        problems.add(
            "database",
            "empty path: give the path of a SQLite file, e.g. \"ossgate.db\"",
        );
    }
    DatabasePath(PathBuf::from(path))
}

fn parse_cors_origins(origins: Vec<String>, problems: &mut Problems) -> Vec<String> {
    if origins.iter().any(|origin| origin == "*") && origins.len() > 1 {
        problems.add(
            "cors_origins",
            "\"*\" allows every origin, so list it alone or list the origins instead",
        );
    }
    for origin in origins.iter().filter(|origin| *origin != "*") {
        let valid = url::Url::parse(origin).ok().is_some_and(|url| {
            matches!(url.scheme(), "http" | "https")
                && url.host().is_some()
                && url.path() == "/"
                && !origin.ends_with('/')
                && url.query().is_none()
                && url.username().is_empty()
        });
        if !valid {
            problems.add(
                "cors_origins",
                format!(
                    "invalid origin {origin:?}: give scheme://host[:port] with no path, \
                     e.g. \"https://app.example.com\""
                ),
            );
        }
    }
    origins
}

fn parse_signature_version(value: Option<Value>, problems: &mut Problems) -> SignatureVersion {
    let text = match value {
        None => return SignatureVersion::V4,
        Some(Value::Integer(number)) => number.to_string(),
        Some(Value::String(text)) => text,
        Some(other) => other.to_string(),
    };
    match text.trim().to_ascii_lowercase().as_str() {
        "4" | "v4" => SignatureVersion::V4,
        "1" | "v1" => SignatureVersion::V1,
        _ => {
            problems.add(
                "oss.signature_version",
                format!("unknown version {text:?}: use \"v4\" (recommended) or \"v1\""),
            );
            SignatureVersion::V4
        }
    }
}

fn parse_credentials(
    id: Option<String>,
    secret: Option<String>,
    token: Option<String>,
    problems: &mut Problems,
) -> Credentials {
    const HINT: &str = "set OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET (or the OSSGATE_ or \
                        ALIBABA_CLOUD_ equivalents), preferably for a RAM user or STS role \
                        limited to this bucket";
    let id = id.filter(|id| !id.trim().is_empty());
    let secret = secret.filter(|secret| !secret.is_empty());
    check_not_placeholder("oss.access_key_secret", secret.as_deref(), problems);
    check_not_placeholder("oss.security_token", token.as_deref(), problems);
    if id.is_none() {
        problems.add("oss.access_key_id", format!("missing: {HINT}"));
    }
    if secret.is_none() {
        problems.add("oss.access_key_secret", format!("missing: {HINT}"));
    }
    let mut credentials =
        Credentials::new(id.unwrap_or_default().trim(), secret.unwrap_or_default());
    if let Some(token) = token.filter(|token| !token.is_empty()) {
        credentials = credentials.with_security_token(token);
    }
    credentials
}

fn parse_content_types(types: Vec<String>, problems: &mut Problems) -> Vec<String> {
    let is_token = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&byte))
    };
    types
        .into_iter()
        .map(|content_type| {
            let normalized = content_type.trim().to_ascii_lowercase();
            let valid = normalized
                .split_once('/')
                .is_some_and(|(kind, subtype)| is_token(kind) && is_token(subtype));
            if normalized.is_empty() {
                problems.add(
                    "upload.content_types",
                    format!(
                        "blank entry {content_type:?}: remove it, and list each allowed type as \
                         type/subtype, e.g. \"image/png\""
                    ),
                );
            } else if !valid {
                problems.add(
                    "upload.content_types",
                    format!("invalid content type {content_type:?}: give type/subtype, e.g. \"image/png\""),
                );
            }
            normalized
        })
        .collect()
}

fn parse_auth(auth: RawAuth, mode: Mode, problems: &mut Problems) -> AuthConfig {
    let default_mode = match mode {
        Mode::Dev => "none",
        Mode::Serve => "",
    };
    match auth.mode.as_deref().unwrap_or(default_mode) {
        "none" => AuthConfig::None,
        "bearer" => {
            let entries = match auth.tokens {
                None => Table::new(),
                Some(Value::Table(entries)) => entries,
                Some(Value::String(text)) if is_placeholder(&text) => {
                    check_not_placeholder("auth.tokens", Some(&text), problems);
                    return AuthConfig::Bearer { tokens: Vec::new() };
                }
                Some(other) => {
                    problems.add(
                        "auth.tokens",
                        format!(
                            "expected a table of \"<token>\" = \"<user id>\" entries, found \
                             a {}: write [auth.tokens] entries or set \
                             OSSGATE_AUTH_TOKENS=token=user,…",
                            other.type_str()
                        ),
                    );
                    return AuthConfig::Bearer { tokens: Vec::new() };
                }
            };
            // The loop reports each rejected entry itself, so "no tokens are set" is only
            // true, and only added, when no entry was given at all.
            let any_entry_given = !entries.is_empty();
            let mut tokens = Vec::new();
            for (token, user) in entries {
                if is_placeholder(&token) {
                    check_not_placeholder("auth.tokens", Some(&token), problems);
                    continue;
                }
                match user {
                    Value::String(user) if !user.is_empty() && token.len() >= 16 => {
                        tokens.push((Zeroizing::new(token), user));
                    }
                    Value::String(user) if !user.is_empty() => problems.add(
                        "auth.tokens",
                        format!(
                            "the token for user {user:?} is shorter than 16 characters: use a \
                             long random token"
                        ),
                    ),
                    _ => problems.add(
                        "auth.tokens",
                        "each token must map to a non-empty user id string",
                    ),
                }
            }
            if !any_entry_given {
                problems.add(
                    "auth.tokens",
                    "auth.mode is \"bearer\" but no tokens are set: add [auth.tokens] entries \
                     (\"<token>\" = \"<user id>\") or OSSGATE_AUTH_TOKENS=token=user,…",
                );
            }
            AuthConfig::Bearer { tokens }
        }
        "jwt" => {
            check_not_placeholder("auth.jwt_secret", auth.jwt_secret.as_deref(), problems);
            let key = match (auth.jwt_secret, auth.jwt_public_key_file) {
                // Reported above as a placeholder, so no "too short" as well.
                (Some(secret), None) if is_placeholder(&secret) => {
                    JwtKey::Hs256(Zeroizing::new(String::new()))
                }
                (Some(secret), None) if secret.len() >= 32 => JwtKey::Hs256(Zeroizing::new(secret)),
                (Some(_), None) => {
                    problems.add(
                        "auth.jwt_secret",
                        "too short for HS256: use at least 32 characters",
                    );
                    JwtKey::Hs256(Zeroizing::new(String::new()))
                }
                (None, Some(path)) => match std::fs::read_to_string(&path) {
                    Ok(pem) => {
                        if jsonwebtoken::DecodingKey::from_rsa_pem(pem.as_bytes()).is_err() {
                            problems.add(
                                "auth.jwt_public_key_file",
                                format!(
                                    "{} is not an RSA public key in PEM form: give the \
                                     issuer's RS256 public key",
                                    path.display()
                                ),
                            );
                        }
                        JwtKey::Rs256 { pem, path }
                    }
                    Err(error) => {
                        problems.add(
                            "auth.jwt_public_key_file",
                            format!("cannot read {}: {error}", path.display()),
                        );
                        JwtKey::Rs256 {
                            pem: String::new(),
                            path,
                        }
                    }
                },
                (Some(_), Some(_)) => {
                    problems.add(
                        "auth.jwt_secret",
                        "both jwt_secret (HS256) and jwt_public_key_file (RS256) are set: keep one",
                    );
                    JwtKey::Hs256(Zeroizing::new(String::new()))
                }
                (None, None) => {
                    problems.add(
                        "auth.jwt_secret",
                        "auth.mode is \"jwt\" but no key is set: set OSSGATE_JWT_SECRET (HS256) \
                         or auth.jwt_public_key_file (RS256)",
                    );
                    JwtKey::Hs256(Zeroizing::new(String::new()))
                }
            };
            AuthConfig::Jwt(JwtConfig {
                key,
                issuer: auth.jwt_issuer,
                audience: auth.jwt_audience,
            })
        }
        "" => {
            problems.add(
                "auth.mode",
                "missing: choose \"bearer\" or \"jwt\" (or \"none\" to let anyone upload as the \
                 user \"dev\") in auth.mode or OSSGATE_AUTH_MODE",
            );
            AuthConfig::None
        }
        other => {
            problems.add(
                "auth.mode",
                format!("unknown mode {other:?}: use \"none\", \"bearer\" or \"jwt\""),
            );
            AuthConfig::None
        }
    }
}

/// Returns whether a secret's value is one of the texts `config check` prints
/// in place of secrets.
fn is_placeholder(value: &str) -> bool {
    let value = value.trim();
    value.eq_ignore_ascii_case(REDACTED) || value.eq_ignore_ascii_case(NOT_SET)
}

/// Reports a secret whose value is a placeholder from `config check` output,
/// which would otherwise be used as the secret itself.
fn check_not_placeholder(setting: &str, value: Option<&str>, problems: &mut Problems) {
    if let Some(value) = value.filter(|value| is_placeholder(value)) {
        problems.add(
            setting,
            format!(
                "the value {:?} looks like a placeholder copied from `ossgate config check` \
                 output, which prints secrets as {REDACTED:?} or {NOT_SET:?}: set the real \
                 secret, or remove the setting if it is not needed",
                value.trim()
            ),
        );
    }
}

fn seconds_in_range(
    setting: &str,
    value: u64,
    min: u64,
    max: u64,
    problems: &mut Problems,
) -> Duration {
    if !(min..=max).contains(&value) {
        problems.add(
            setting,
            format!("{value} is out of range: give seconds from {min} to {max}"),
        );
    }
    Duration::from_secs(value)
}

/// Checks OSS's bucket naming rules: 3 to 63 lowercase letters, digits and
/// hyphens, starting and ending with a letter or digit.
fn check_bucket_name(name: &str) -> Result<(), &'static str> {
    if !(3..=63).contains(&name.len()) {
        return Err("a bucket name has 3 to 63 characters");
    }
    if !name
        .bytes()
        .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
    {
        return Err("use only lowercase letters, digits and hyphens");
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err("a bucket name starts and ends with a letter or digit");
    }
    Ok(())
}

fn check_http_url(text: &str) -> Result<(), &'static str> {
    let url = url::Url::parse(text).map_err(|_| "not an absolute URL")?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("use an http:// or https:// URL");
    }
    if url.host().is_none() {
        return Err("the URL has no host");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the URL must not carry user information");
    }
    if url.fragment().is_some() {
        return Err("the URL must not have a #fragment");
    }
    Ok(())
}

fn check_key_url_prefix(prefix: &str) -> Result<(), &'static str> {
    check_http_url(prefix)?;
    // Without a '/' after the host, "https://keys.example.com" would also match
    // "https://keys.example.com.attacker.net/".
    let after_scheme = prefix.split_once("://").map_or("", |(_, rest)| rest);
    if !after_scheme.contains('/') {
        return Err(
            "end the host part with '/' and name the key's own path, e.g. \
             \"https://keys.example.com/oss/callback_pub_key.pem\"",
        );
    }
    Ok(())
}

/// Returns whether a trusted key URL prefix covers a path the bucket serves
/// objects under, or the other way round, because key URLs are matched as
/// string prefixes: "/" or "/exam" covers "/examplebucket/", and
/// "/examplebucket/keys/" lies inside it. The bucket is reached both
/// path-style (`host/bucket/key`) and virtual-hosted (`bucket.host/key`) on
/// OSS and the emulator, so both forms of the bucket URL are compared.
fn key_url_prefix_covers_bucket(prefix: &str, bucket_url: &str, bucket: &str) -> bool {
    let (Ok(prefix), Ok(bucket_url)) = (url::Url::parse(prefix), url::Url::parse(bucket_url))
    else {
        return false;
    };
    let Some(host) = bucket_url.host_str() else {
        return false;
    };
    if !same_server(&prefix, &bucket_url) {
        return false;
    }
    let path = bucket_url.path().trim_end_matches('/');

    // The host and the path that objects live under, in each addressing style.
    let mut object_roots = vec![(host.to_owned(), format!("{path}/"))];
    if path == format!("/{bucket}") {
        object_roots.push((format!("{bucket}.{host}"), "/".to_owned()));
    } else if let Some(endpoint) = host.strip_prefix(&format!("{bucket}.")) {
        object_roots.push((endpoint.to_owned(), format!("{path}/{bucket}/")));
    }

    let prefix_path = prefix.path();
    object_roots.iter().any(|(root_host, root_path)| {
        prefix.host_str() == Some(root_host.as_str())
            && (root_path.starts_with(prefix_path) || prefix_path.starts_with(root_path.as_str()))
    })
}

/// Returns whether two URLs name the same port: the same scheme and port, or
/// each its scheme's default port, because OSS serves a bucket over both http
/// on 80 and https on 443.
fn same_server(left: &url::Url, right: &url::Url) -> bool {
    let same_port = left.scheme() == right.scheme()
        && left.port_or_known_default() == right.port_or_known_default();
    same_port || (left.port().is_none() && right.port().is_none())
}

/// Checks the upload directory template: a relative prefix ending in '/',
/// without empty, "." or ".." segments, with `{user}` so that each user has a
/// directory of their own, and only the placeholders `{user}`, `{date}`,
/// `{year}`, `{month}`, `{day}`.
fn check_dir_template(template: &str) -> Result<(), String> {
    if template.starts_with('/') {
        return Err("OSS keys do not start with '/': remove the leading '/'".to_owned());
    }
    if !template.ends_with('/') {
        return Err("a directory ends with '/': add one at the end".to_owned());
    }
    // A ".." segment makes the emulator reject every upload as
    // InvalidObjectName. "." and empty segments are dropped or merged by URL
    // normalisation in browsers and HTTP clients, so an object's URL would no
    // longer name its key.
    for segment in template[..template.len() - 1].split(['/', '\\']) {
        match segment {
            "" => {
                return Err(
                    "an empty path segment (\"//\"): URL normalisation can merge \
                            the slashes, so the object's URL would not name its key; remove \
                            the extra '/'"
                        .to_owned(),
                )
            }
            ".." => {
                return Err("a \"..\" path segment: uploads to such a key fail with \
                            InvalidObjectName; give plain directory names"
                    .to_owned())
            }
            "." => {
                return Err("a \".\" path segment: URL normalisation drops it, so the \
                            object's URL would not name its key; remove the segment"
                    .to_owned())
            }
            _ => {}
        }
    }
    if !template.contains("{user}") {
        return Err(
            "add {user} so that each user uploads into a directory of their own".to_owned(),
        );
    }
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let end = rest[start..]
            .find('}')
            .ok_or_else(|| "an unclosed '{'".to_owned())?;
        let name = &rest[start + 1..start + end];
        if !matches!(name, "user" | "date" | "year" | "month" | "day") {
            return Err(format!(
                "unknown placeholder {{{name}}}: use {{user}}, {{date}}, {{year}}, {{month}} or {{day}}"
            ));
        }
        rest = &rest[start + end + 1..];
    }
    if rest.contains('}') || template.contains("${") {
        return Err("a stray '}' or '${'".to_owned());
    }
    Ok(())
}

/// Checks a callback route: a plain path starting with '/' that no other
/// route of the server uses.
fn check_callback_path(path: &str) -> Result<(), &'static str> {
    if !path.starts_with('/') || path.contains(['?', '#', '{', '}']) {
        return Err("give a plain path starting with '/'");
    }
    if is_reserved_route(path) {
        return Err("another route of the server uses it: pick another path");
    }
    Ok(())
}

/// Checks that the callback URL's path is `prefix + path`, the route the
/// server serves behind the reverse proxy. OSS posts to the URL's path and
/// signs it, so no proxy may rewrite it into another route. The query is not
/// compared because the server verifies it as received.
fn check_callback_url_path(url: &str, prefix: &str, path: &str, problems: &mut Problems) {
    // A missing or invalid URL is reported already.
    let Ok(mut url) = url::Url::parse(url) else {
        return;
    };
    let expected = format!("{prefix}{path}");
    if url.path() == expected {
        return;
    }

    let url_path = url.path().to_owned();
    let route = if prefix.is_empty() {
        format!("callback.path {path:?}")
    } else {
        format!("callback.public_path_prefix + callback.path ({expected:?})")
    };
    // The other fix, when the URL's path has a usable route after the prefix.
    let alternative = match url_path.strip_prefix(prefix) {
        Some(route) if route.starts_with('/') && check_callback_path(route).is_ok() => {
            format!(", or set callback.path to {route:?}")
        }
        _ => String::new(),
    };
    url.set_path(&expected);
    problems.add(
        "callback.url",
        format!(
            "its path {url_path:?} differs from {route}, but OSS posts to the URL's path and \
             signs it. Set callback.url to {:?}{alternative}",
            url.as_str()
        ),
    );
}

/// Derives the callback route from the callback URL's path when
/// `callback.path` is unset: the URL's path without `prefix`, which the
/// reverse proxy strips. Falls back to [`DEFAULT_CALLBACK_PATH`] after
/// reporting a problem.
fn derive_callback_path(url: &str, prefix: &str, problems: &mut Problems) -> String {
    // A missing or invalid URL is reported already.
    let Ok(mut url) = url::Url::parse(url) else {
        return DEFAULT_CALLBACK_PATH.to_owned();
    };
    let url_path = url.path().to_owned();

    // The part after the prefix must be empty or a path of its own, because
    // "/ossgatex/cb" is outside the prefix "/ossgate".
    let Some(route) = url_path
        .strip_prefix(prefix)
        .filter(|route| route.is_empty() || route.starts_with('/'))
    else {
        let suggested = if url_path == "/" {
            DEFAULT_CALLBACK_PATH
        } else {
            url_path.as_str()
        };
        url.set_path(&format!("{prefix}{suggested}"));
        problems.add(
            "callback.url",
            format!(
                "its path {url_path:?} is outside callback.public_path_prefix {prefix:?}, which \
                 the reverse proxy strips from every callback. Set callback.url to {:?}, or \
                 unset callback.public_path_prefix if no proxy strips it",
                url.as_str()
            ),
        );
        return DEFAULT_CALLBACK_PATH.to_owned();
    };

    if route.is_empty() || route == "/" {
        url.set_path(&format!("{prefix}{DEFAULT_CALLBACK_PATH}"));
        problems.add(
            "callback.url",
            format!(
                "its path {url_path:?} has no callback route: add one, e.g. {:?}. With \
                 callback.path unset, the server serves the callback on the URL's path",
                url.as_str()
            ),
        );
        return DEFAULT_CALLBACK_PATH.to_owned();
    }
    if let Err(reason) = check_callback_path(route) {
        problems.add(
            "callback.url",
            format!("its path gives the invalid callback route {route:?}: {reason}"),
        );
    }
    route.to_owned()
}

fn is_reserved_route(path: &str) -> bool {
    matches!(
        path,
        "/" | "/healthz"
            | "/readyz"
            | "/metrics"
            | "/api/limits"
            | "/api/upload-token"
            | "/api/policy"
            | "/api/uploads"
    ) || path.starts_with("/api/uploads/")
}

/// Reads a secret from a file, trimming one trailing newline.
///
/// # Errors
///
/// The file cannot be read.
pub fn read_secret_file(path: &Path) -> std::io::Result<Zeroizing<String>> {
    let text = Zeroizing::new(std::fs::read_to_string(path)?);
    Ok(Zeroizing::new(
        text.trim_end_matches(['\r', '\n']).to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    fn complete_env() -> Vec<(String, String)> {
        env(&[
            ("OSSGATE_BUCKET", "example-bucket"),
            ("OSSGATE_REGION", "oss-cn-hangzhou"),
            (
                "OSSGATE_CALLBACK_URL",
                "https://app.example.com/api/oss/callback",
            ),
            ("OSSGATE_TICKET_SECRET", "0123456789abcdef0123456789abcdef"),
            ("OSSGATE_AUTH_MODE", "bearer"),
            ("OSSGATE_AUTH_TOKENS", "token-for-alice-123456=alice"),
            ("OSS_ACCESS_KEY_ID", "LTAIexample"),
            ("OSS_ACCESS_KEY_SECRET", "secret-from-oss-vars"),
        ])
    }

    fn load(env: Vec<(String, String)>) -> Result<ServerConfig, ConfigErrors> {
        let sources = ConfigSources {
            env,
            ..ConfigSources::default()
        };
        ServerConfig::load(&sources, Mode::Serve)
    }

    fn settings(errors: &ConfigErrors) -> Vec<&str> {
        errors
            .0
            .iter()
            .map(|error| error.setting.as_str())
            .collect()
    }

    #[test]
    fn complete_environment_resolves_with_defaults() {
        let config = load(complete_env()).unwrap();
        assert_eq!(config.region, "cn-hangzhou");
        assert_eq!(
            config.bucket_url,
            "https://example-bucket.oss-cn-hangzhou.aliyuncs.com"
        );
        assert_eq!(config.signature_version, SignatureVersion::V4);
        assert_eq!(config.credentials.access_key_id, "LTAIexample");
        assert_eq!(
            config.credentials.access_key_secret.expose(),
            "secret-from-oss-vars"
        );
        assert_eq!(config.max_size, 10 * 1024 * 1024);
        assert_eq!(config.callback_path, DEFAULT_CALLBACK_PATH);
        assert_eq!(config.auth.mode_name(), "bearer");
    }

    #[test]
    fn empty_sources_name_every_missing_setting() {
        let errors = load(Vec::new()).unwrap_err();
        let names = settings(&errors);
        for setting in [
            "oss.bucket",
            "oss.region",
            "oss.access_key_id",
            "oss.access_key_secret",
            "callback.url",
            "callback.ticket_secret",
            "auth.mode",
        ] {
            assert!(names.contains(&setting), "{setting} missing from {names:?}");
        }
    }

    #[test]
    fn credential_group_is_never_mixed() {
        let mut vars = complete_env();
        vars.push((
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET".into(),
            "other-secret".into(),
        ));
        vars.push(("OSSGATE_ACCESS_KEY_ID".into(), "LTAIfromOssgate".into()));
        let errors = load(vars).unwrap_err();
        assert_eq!(settings(&errors), ["OSSGATE_ACCESS_KEY_SECRET"]);
    }

    #[test]
    fn alibaba_cloud_variables_are_read() {
        let mut vars: Vec<_> = complete_env()
            .into_iter()
            .filter(|(key, _)| !key.starts_with("OSS_"))
            .collect();
        vars.extend(env(&[
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", "STS.example"),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "sts-secret"),
            ("ALIBABA_CLOUD_SECURITY_TOKEN", "sts-token"),
        ]));
        let config = load(vars).unwrap();
        assert_eq!(config.credentials.access_key_id, "STS.example");
        let token = config.credentials.security_token.as_ref().unwrap();
        assert_eq!(token.expose(), "sts-token");
    }

    #[test]
    fn overrides_beat_environment_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ossgate.toml");
        std::fs::write(&file, "[upload]\nmax_size = 100\ntoken_lifetime = 60\n").unwrap();
        let mut vars = complete_env();
        vars.push(("OSSGATE_MAX_SIZE".into(), "200".into()));
        let mut sources = ConfigSources {
            file: Some(file),
            env: vars,
            overrides: Table::new(),
        };
        let config = ServerConfig::load(&sources, Mode::Serve).unwrap();
        assert_eq!(config.max_size, 200);
        assert_eq!(config.token_lifetime, Duration::from_secs(60));

        sources.set("upload.max_size", 300);
        let config = ServerConfig::load(&sources, Mode::Serve).unwrap();
        assert_eq!(config.max_size, 300);
    }

    #[test]
    fn unknown_file_key_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ossgate.toml");
        std::fs::write(&file, "[upload]\nmax_sise = 100\n").unwrap();
        let sources = ConfigSources {
            file: Some(file),
            env: complete_env(),
            overrides: Table::new(),
        };
        let error = ServerConfig::load(&sources, Mode::Serve).unwrap_err();
        assert!(error.to_string().contains("max_sise"), "{error}");
    }

    #[test]
    fn bad_environment_integer_names_the_variable() {
        let mut vars = complete_env();
        vars.push(("OSSGATE_MAX_SIZE".into(), "ten".into()));
        let errors = load(vars).unwrap_err();
        assert_eq!(settings(&errors), ["OSSGATE_MAX_SIZE"]);
    }

    #[test]
    fn invalid_values_are_reported_together() {
        let mut vars = complete_env();
        vars.extend(env(&[
            ("OSSGATE_SIGNATURE_VERSION", "v3"),
            ("OSSGATE_UPLOAD_DIR", "shared/"),
            ("OSSGATE_CORS_ORIGINS", "*,https://app.example.com"),
            (
                "OSSGATE_TRUSTED_KEY_URL_PREFIXES",
                "https://keys.example.com",
            ),
            ("OSSGATE_DATABASE", "postgres://db/ossgate"),
        ]));
        let errors = load(vars).unwrap_err();
        assert_eq!(
            settings(&errors),
            [
                "database",
                "cors_origins",
                "oss.signature_version",
                "upload.dir",
                "callback.trusted_key_url_prefixes"
            ]
        );
    }

    #[test]
    fn long_v4_token_lifetime_is_rejected() {
        let mut vars = complete_env();
        vars.push(("OSSGATE_TOKEN_LIFETIME".into(), "1800".into()));
        let errors = load(vars).unwrap_err();
        assert_eq!(settings(&errors), ["upload.token_lifetime"]);
    }

    #[test]
    fn long_v1_token_lifetime_is_accepted() {
        let mut vars = complete_env();
        vars.push(("OSSGATE_TOKEN_LIFETIME".into(), "1800".into()));
        vars.push(("OSSGATE_SIGNATURE_VERSION".into(), "1".into()));
        let config = load(vars).unwrap();
        assert_eq!(config.token_lifetime, Duration::from_secs(1800));
    }

    /// Complete settings in bearer mode with the given `OSSGATE_AUTH_TOKENS` value.
    fn bearer_env(tokens: &str) -> Vec<(String, String)> {
        let mut vars = complete_env();
        vars.retain(|(name, _)| name != "OSSGATE_AUTH_TOKENS");
        vars.push(("OSSGATE_AUTH_TOKENS".into(), tokens.into()));
        vars
    }

    #[test]
    fn short_bearer_tokens_are_the_only_problems() {
        let errors = load(bearer_env("short=alice,tiny=bob")).unwrap_err();
        assert_eq!(
            settings(&errors),
            ["auth.tokens", "auth.tokens"],
            "{errors}"
        );
        for error in &errors.0 {
            assert!(error.message.contains("shorter than 16"), "{errors}");
        }
        assert!(
            !errors.to_string().contains("no tokens are set"),
            "{errors}"
        );
    }

    #[test]
    fn empty_bearer_user_is_the_only_problem() {
        let errors = load(bearer_env("token-without-user-1234=")).unwrap_err();
        assert_eq!(
            only_message(&errors),
            "each token must map to a non-empty user id string"
        );
    }

    #[test]
    fn missing_bearer_tokens_are_reported() {
        let errors = load(bearer_env("")).unwrap_err();
        assert!(
            only_message(&errors).contains("no tokens are set"),
            "{errors}"
        );
    }

    #[test]
    fn malformed_region_is_rejected() {
        let mut vars = complete_env();
        vars.retain(|(name, _)| name != "OSSGATE_REGION");
        vars.push(("OSSGATE_REGION".into(), "cn-hangzhou/x".into()));
        let errors = load(vars).unwrap_err();
        assert_eq!(settings(&errors), ["oss.region"]);
    }

    #[test]
    fn private_callback_url_warns_outside_dev() {
        let mut vars = complete_env();
        vars.push((
            "OSSGATE_CALLBACK_URL".into(),
            "http://192.168.1.20:8080/cb".into(),
        ));
        let config = load(vars).unwrap();
        assert!(config.callback_url_warning().is_some());

        let config = load(complete_env()).unwrap();
        assert_eq!(config.callback_url_warning(), None);
    }

    /// Complete settings with the given callback URL, path and prefix.
    fn callback_env(url: &str, path: Option<&str>, prefix: Option<&str>) -> Vec<(String, String)> {
        let mut vars = complete_env();
        vars.retain(|(name, _)| name != "OSSGATE_CALLBACK_URL");
        vars.push(("OSSGATE_CALLBACK_URL".into(), url.into()));
        if let Some(path) = path {
            vars.push(("OSSGATE_CALLBACK_PATH".into(), path.into()));
        }
        if let Some(prefix) = prefix {
            vars.push(("OSSGATE_PUBLIC_PATH_PREFIX".into(), prefix.into()));
        }
        vars
    }

    fn only_message(errors: &ConfigErrors) -> &str {
        assert_eq!(errors.0.len(), 1, "{errors}");
        &errors.0[0].message
    }

    #[test]
    fn callback_path_is_derived_from_url() {
        let vars = callback_env("https://app.example.com/hooks/oss?source=oss", None, None);
        let config = load(vars).unwrap();
        assert_eq!(config.callback_path, "/hooks/oss");
        assert_eq!(config.public_path_prefix, "");
    }

    #[test]
    fn callback_path_is_derived_after_prefix() {
        let vars = callback_env(
            "https://app.example.com/ossgate/hooks/oss",
            None,
            Some("/ossgate"),
        );
        let config = load(vars).unwrap();
        assert_eq!(config.callback_path, "/hooks/oss");
        assert_eq!(config.public_path_prefix, "/ossgate");
    }

    #[test]
    fn callback_url_matching_prefix_and_path_is_accepted() {
        let vars = callback_env(
            "https://app.example.com/ossgate/hooks/oss?source=oss",
            Some("/hooks/oss"),
            Some("/ossgate"),
        );
        let config = load(vars).unwrap();
        assert_eq!(config.callback_path, "/hooks/oss");
    }

    #[test]
    fn callback_url_differing_from_path_is_rejected() {
        let vars = callback_env(
            "https://app.example.com/hooks/oss?source=oss",
            Some("/api/oss/callback"),
            None,
        );
        let errors = load(vars).unwrap_err();
        assert_eq!(settings(&errors), ["callback.url"]);
        let message = only_message(&errors);
        assert!(message.contains("\"/hooks/oss\""), "{message}");
        assert!(
            message.contains("callback.path \"/api/oss/callback\""),
            "{message}"
        );
        assert!(
            message.contains("\"https://app.example.com/api/oss/callback?source=oss\""),
            "{message}"
        );
    }

    #[test]
    fn callback_url_without_prefix_is_rejected() {
        let vars = callback_env(
            "https://app.example.com/hooks/oss",
            Some("/hooks/oss"),
            Some("/ossgate"),
        );
        let errors = load(vars).unwrap_err();
        assert_eq!(settings(&errors), ["callback.url"]);
        let message = only_message(&errors);
        assert!(message.contains("\"/ossgate/hooks/oss\""), "{message}");
        assert!(message.contains("callback.public_path_prefix"), "{message}");
    }

    #[test]
    fn callback_url_outside_prefix_is_rejected() {
        for url in [
            "https://app.example.com/api/oss/callback",
            "https://app.example.com/ossgatex/api/oss/callback",
        ] {
            let errors = load(callback_env(url, None, Some("/ossgate"))).unwrap_err();
            assert_eq!(settings(&errors), ["callback.url"], "{url}");
            let message = only_message(&errors);
            assert!(message.contains("outside"), "{url}: {message}");
        }

        let vars = callback_env(
            "https://app.example.com/api/oss/callback",
            None,
            Some("/ossgate"),
        );
        let errors = load(vars).unwrap_err();
        let message = only_message(&errors);
        assert!(
            message.contains("\"https://app.example.com/ossgate/api/oss/callback\""),
            "{message}"
        );
    }

    #[test]
    fn callback_url_without_route_is_rejected() {
        for (url, prefix) in [
            ("https://app.example.com", None),
            ("https://app.example.com/", None),
            ("https://app.example.com/ossgate", Some("/ossgate")),
            ("https://app.example.com/ossgate/", Some("/ossgate")),
        ] {
            let errors = load(callback_env(url, None, prefix)).unwrap_err();
            assert_eq!(settings(&errors), ["callback.url"], "{url}");
            let message = only_message(&errors);
            assert!(message.contains("no callback route"), "{url}: {message}");
        }
    }

    #[test]
    fn callback_url_on_reserved_route_is_rejected() {
        let vars = callback_env("https://app.example.com/api/policy", None, None);
        let errors = load(vars).unwrap_err();
        assert_eq!(settings(&errors), ["callback.url"]);
    }

    #[test]
    fn dev_mode_rejects_public_path_prefix() {
        let sources = ConfigSources {
            env: callback_env(
                "http://127.0.0.1:8080/api/oss/callback",
                None,
                Some("/ossgate"),
            ),
            ..ConfigSources::default()
        };
        let errors = ServerConfig::load(&sources, Mode::Dev).unwrap_err();
        assert_eq!(settings(&errors), ["callback.public_path_prefix"]);

        let sources = ConfigSources {
            env: callback_env("http://127.0.0.1:8080/api/oss/callback", None, None),
            ..ConfigSources::default()
        };
        let config = ServerConfig::load(&sources, Mode::Dev).unwrap();
        assert_eq!(config.callback_path, DEFAULT_CALLBACK_PATH);
    }

    #[test]
    fn describe_redacts_secrets() {
        let mut vars = complete_env();
        vars.push(("OSS_SESSION_TOKEN".into(), "session-token-value".into()));
        let config = load(vars).unwrap();
        let text = config.describe();
        assert!(text.contains("bucket = \"example-bucket\""), "{text}");
        for secret in [
            "secret-from-oss-vars",
            "session-token-value",
            "0123456789abcdef0123456789abcdef",
            "token-for-alice-123456",
        ] {
            assert!(!text.contains(secret), "{secret} leaked in:\n{text}");
        }
        assert!(text.parse::<Table>().is_ok(), "not TOML:\n{text}");
    }

    fn with_vars(extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut vars = complete_env();
        for (name, value) in extra {
            vars.retain(|(existing, _)| existing != name);
            vars.push(((*name).to_owned(), (*value).to_owned()));
        }
        vars
    }

    #[test]
    fn key_prefix_covering_bucket_is_rejected() {
        let cases = [
            // Host root over a path-style bucket.
            (
                "http://127.0.0.1:19000/",
                "http://127.0.0.1:19000/examplebucket",
            ),
            // The bucket path itself, with and without the slash.
            (
                "http://127.0.0.1:19000/examplebucket/",
                "http://127.0.0.1:19000/examplebucket",
            ),
            (
                "http://127.0.0.1:19000/examplebucket",
                "http://127.0.0.1:19000/examplebucket/",
            ),
            // A directory inside the bucket.
            (
                "http://127.0.0.1:19000/examplebucket/keys/",
                "http://127.0.0.1:19000/examplebucket",
            ),
            // A string prefix of the bucket path.
            (
                "http://127.0.0.1:19000/example",
                "http://127.0.0.1:19000/examplebucket",
            ),
            // A virtual-hosted bucket: every path on its host is the bucket's.
            (
                "https://example-bucket.oss-cn-hangzhou.aliyuncs.com/keys/pub.pem",
                "https://example-bucket.oss-cn-hangzhou.aliyuncs.com",
            ),
            // The default port written out, and the host in capitals.
            (
                "https://KEYS.example.com:443/",
                "https://keys.example.com/b",
            ),
            // OSS serves the bucket over http too.
            (
                "http://example-bucket.oss-cn-hangzhou.aliyuncs.com/",
                "https://example-bucket.oss-cn-hangzhou.aliyuncs.com",
            ),
            // The virtual-hosted form of a path-style bucket URL.
            (
                "http://example-bucket.localhost:19000/",
                "http://localhost:19000/example-bucket",
            ),
            // The path-style form of a virtual-hosted bucket URL.
            (
                "https://oss-cn-hangzhou.aliyuncs.com/example-bucket/k.pem",
                "https://example-bucket.oss-cn-hangzhou.aliyuncs.com",
            ),
        ];
        for (prefix, bucket_url) in cases {
            let errors = load(with_vars(&[
                ("OSSGATE_TRUSTED_KEY_URL_PREFIXES", prefix),
                ("OSSGATE_BUCKET_URL", bucket_url),
            ]))
            .unwrap_err();
            assert_eq!(
                settings(&errors),
                ["callback.trusted_key_url_prefixes"],
                "{prefix} over {bucket_url}"
            );
            let message = &errors.0[0].message;
            assert!(message.contains("uploaders can write"), "{message}");
            assert!(message.contains(prefix), "{message}");
        }
    }

    #[test]
    fn key_prefix_beside_bucket_is_accepted() {
        let cases = [
            // The emulator's key path beside a path-style bucket.
            (
                "http://127.0.0.1:19000/callback_pub_key_v1.pem",
                "http://127.0.0.1:19000/examplebucket",
            ),
            // Another bucket whose name starts with this bucket's name.
            (
                "http://127.0.0.1:19000/examplebucket2/",
                "http://127.0.0.1:19000/examplebucket",
            ),
            // Another port, scheme or host.
            (
                "http://127.0.0.1:19001/",
                "http://127.0.0.1:19000/examplebucket",
            ),
            (
                "https://127.0.0.1:19000/",
                "http://127.0.0.1:19000/examplebucket",
            ),
            (
                "https://keys.example.com/",
                "https://example-bucket.oss-cn-hangzhou.aliyuncs.com",
            ),
            // The endpoint beside a virtual-hosted bucket, outside its path.
            (
                "https://oss-cn-hangzhou.aliyuncs.com/keys/",
                "https://example-bucket.oss-cn-hangzhou.aliyuncs.com",
            ),
            // Another bucket's virtual host.
            (
                "http://other-bucket.localhost:19000/",
                "http://localhost:19000/example-bucket",
            ),
        ];
        for (prefix, bucket_url) in cases {
            let result = load(with_vars(&[
                ("OSSGATE_TRUSTED_KEY_URL_PREFIXES", prefix),
                ("OSSGATE_BUCKET_URL", bucket_url),
            ]));
            assert!(result.is_ok(), "{prefix} over {bucket_url}: {result:?}");
        }
    }

    #[test]
    fn key_prefix_covering_default_bucket_url_is_rejected() {
        let errors = load(with_vars(&[(
            "OSSGATE_TRUSTED_KEY_URL_PREFIXES",
            "https://example-bucket.oss-cn-hangzhou.aliyuncs.com/",
        )]))
        .unwrap_err();
        assert_eq!(settings(&errors), ["callback.trusted_key_url_prefixes"]);
    }

    #[test]
    fn blank_environment_list_is_rejected() {
        for (name, value) in [
            ("OSSGATE_CONTENT_TYPES", " "),
            ("OSSGATE_CONTENT_TYPES", ","),
            ("OSSGATE_CONTENT_TYPES", "image/png,"),
            ("OSSGATE_CONTENT_TYPES", "image/png, ,image/jpeg"),
            ("OSSGATE_CORS_ORIGINS", " , "),
        ] {
            let errors = load(with_vars(&[(name, value)])).unwrap_err();
            assert_eq!(settings(&errors), [name], "{name}={value:?}");
            let message = &errors.0[0].message;
            assert!(message.contains(&format!("{value:?}")), "{message}");
        }
    }

    #[test]
    fn environment_content_types_are_split() {
        let config = load(with_vars(&[(
            "OSSGATE_CONTENT_TYPES",
            " image/png , image/JPEG ",
        )]))
        .unwrap();
        assert_eq!(config.content_types, ["image/png", "image/jpeg"]);
    }

    #[test]
    fn blank_file_content_type_is_rejected() {
        let mut sources = ConfigSources {
            env: complete_env(),
            ..ConfigSources::default()
        };
        sources.set(
            "upload.content_types",
            vec!["image/png".to_owned(), " ".to_owned()],
        );
        let errors = ServerConfig::load(&sources, Mode::Serve).unwrap_err();
        assert_eq!(settings(&errors), ["upload.content_types"]);
        assert!(errors.0[0].message.contains("blank entry"), "{errors}");
    }

    #[test]
    fn empty_content_types_describe_any_type() {
        let mut sources = ConfigSources {
            env: complete_env(),
            ..ConfigSources::default()
        };
        sources.set("upload.content_types", Vec::<String>::new());
        let config = ServerConfig::load(&sources, Mode::Serve).unwrap();
        assert!(config.content_types.is_empty());
        let text = config.describe();
        assert!(
            text.contains("content_types = [] # empty: any content type is allowed"),
            "{text}"
        );
        assert!(text.parse::<Table>().is_ok(), "not TOML:\n{text}");
    }

    #[test]
    fn placeholder_secrets_are_rejected() {
        let cases = [
            (
                "OSS_ACCESS_KEY_SECRET",
                "<redacted>",
                "oss.access_key_secret",
            ),
            ("OSS_SESSION_TOKEN", "<not set>", "oss.security_token"),
            (
                "OSSGATE_TICKET_SECRET",
                "<redacted>",
                "callback.ticket_secret",
            ),
            ("OSSGATE_AUTH_TOKENS", "<redacted>=alice", "auth.tokens"),
        ];
        for (name, value, setting) in cases {
            let errors = load(with_vars(&[(name, value)])).unwrap_err();
            assert_eq!(settings(&errors), [setting], "{name}={value:?}");
            let message = &errors.0[0].message;
            assert!(message.contains("placeholder"), "{message}");
            assert!(message.contains("config check"), "{message}");
        }
    }

    #[test]
    fn placeholder_jwt_secret_is_rejected() {
        let errors = load(with_vars(&[
            ("OSSGATE_AUTH_MODE", "jwt"),
            ("OSSGATE_JWT_SECRET", "<redacted>"),
        ]))
        .unwrap_err();
        assert_eq!(settings(&errors), ["auth.jwt_secret"]);
        assert!(errors.0[0].message.contains("placeholder"), "{errors}");
    }

    #[test]
    fn described_config_does_not_load_back() {
        // The effective settings printed by `config check`, used as a file.
        let mut vars = complete_env();
        vars.push(("OSS_SESSION_TOKEN".into(), "session-token-value".into()));
        let text = load(vars).unwrap().describe();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("copied.toml");
        std::fs::write(&path, &text).unwrap();

        let sources = ConfigSources {
            file: Some(path),
            ..ConfigSources::default()
        };
        let errors = ServerConfig::load(&sources, Mode::Serve).unwrap_err();
        let mut named = settings(&errors);
        named.sort_unstable();
        assert_eq!(
            named,
            [
                "auth.tokens",
                "callback.ticket_secret",
                "oss.access_key_secret",
                "oss.security_token"
            ],
            "{errors}"
        );
    }

    #[test]
    fn dir_template_with_bad_segments_is_rejected() {
        for (dir, reason) in [
            ("up/{user}/../x/", "\"..\""),
            ("../{user}/", "\"..\""),
            ("up/{user}/./", "\".\""),
            ("up//{user}/", "empty path segment"),
            ("up/{user}//", "empty path segment"),
            ("up\\..\\{user}/", "\"..\""),
            ("/up/{user}/", "leading '/'"),
        ] {
            let errors = load(with_vars(&[("OSSGATE_UPLOAD_DIR", dir)])).unwrap_err();
            assert_eq!(settings(&errors), ["upload.dir"], "{dir}");
            let message = &errors.0[0].message;
            assert!(message.contains(reason), "{dir}: {message}");
        }
    }

    #[test]
    fn dir_template_with_dotted_names_is_accepted() {
        let config = load(with_vars(&[("OSSGATE_UPLOAD_DIR", "up.v2/{user}/..x/")])).unwrap();
        assert_eq!(config.upload_dir, "up.v2/{user}/..x/");
    }

    #[test]
    fn unknown_environment_variables_warn() {
        let sources = ConfigSources {
            env: with_vars(&[
                ("OSSGATE_MAX_SIZ", "10"),
                ("OSSGATE_DIR", "x/{user}/"),
                ("OSSGATE_COMPLETELY_DIFFERENT", "1"),
                ("OSS_SOMETHING_ELSE", "1"),
            ]),
            ..ConfigSources::default()
        };
        let warnings = sources.unknown_env_warnings();
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(
            warnings[0].contains("OSSGATE_COMPLETELY_DIFFERENT is ignored"),
            "{warnings:?}"
        );
        assert!(!warnings[0].contains("did you mean"), "{warnings:?}");
        assert!(
            warnings[1].contains("OSSGATE_DIR is ignored: did you mean OSSGATE_UPLOAD_DIR?"),
            "{warnings:?}"
        );
        assert!(
            warnings[2].contains("OSSGATE_MAX_SIZ is ignored: did you mean OSSGATE_MAX_SIZE?"),
            "{warnings:?}"
        );
        // The settings still load: an unknown variable is not an error.
        assert!(ServerConfig::load(&sources, Mode::Serve).is_ok());
    }

    #[test]
    fn known_environment_variables_do_not_warn() {
        let mut vars = complete_env();
        vars.extend(
            ENV_SETTINGS
                .iter()
                .map(|(name, _, _)| ((*name).to_owned(), String::new())),
        );
        vars.push(("OSSGATE_ACCESS_KEY_ID".into(), String::new()));
        vars.push(("OSSGATE_ACCESS_KEY_SECRET".into(), String::new()));
        vars.push(("OSSGATE_SECURITY_TOKEN".into(), String::new()));
        let sources = ConfigSources {
            env: vars,
            ..ConfigSources::default()
        };
        assert_eq!(sources.unknown_env_warnings(), Vec::<String>::new());
    }
}
