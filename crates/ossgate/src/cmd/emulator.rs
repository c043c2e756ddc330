//! `ossgate emulator`: the local OSS emulator on its own.
//!
//! Settings come from an optional TOML file, then from flags, which override
//! it. AccessKey secrets never come from flags: they are read from the
//! configuration file or from the `OSS_ACCESS_KEY_ID`, `OSS_ACCESS_KEY_SECRET`
//! and (for STS) `OSS_SESSION_TOKEN` environment variables.

use super::{init_logging, LogFormat};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use ossgate_emulator::{BucketAcl, BucketConfig, CorsRule, CredentialConfig, EmulatorConfig};

#[derive(Debug, clap::Args)]
pub struct EmulatorArgs {
    /// TOML configuration file; the flags below override its values.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Address to listen on; port 0 picks a free port [default: 127.0.0.1:9000].
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,

    /// Directory for stored objects and the callback key [default: ./.ossgate-emulator].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// Region id that V4 signatures must name, without "oss-" [default: cn-hangzhou].
    #[arg(long, value_name = "REGION")]
    region: Option<String>,

    /// A bucket to serve, as NAME or NAME:ACL with ACL one of private,
    /// public-read, public-read-write. Repeat for several buckets.
    #[arg(long = "bucket", value_name = "NAME[:ACL]")]
    buckets: Vec<String>,

    /// A browser origin allowed to POST, GET and HEAD on every bucket given
    /// with --bucket (one `*` wildcard allowed). Repeat for several origins.
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    cors_origins: Vec<String>,

    /// Size in bits of a generated callback key; 512 matches OSS's key [default: 2048].
    #[arg(long, value_name = "BITS")]
    callback_key_bits: Option<usize>,

    /// PEM file of the callback signing key; generated there when missing.
    #[arg(long, value_name = "FILE")]
    callback_key_path: Option<PathBuf>,

    /// Time budget of one callback exchange, e.g. "5s" or "500ms" [default: 5s].
    #[arg(long, value_name = "DURATION", value_parser = ossgate_emulator::config::parse_duration)]
    callback_timeout: Option<Duration>,

    /// Do not serve the JSON test hooks under /_emulator/.
    #[arg(long)]
    no_test_hooks: bool,

    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

pub fn run(args: EmulatorArgs) -> anyhow::Result<ExitCode> {
    init_logging(args.log_format);
    let config = build_config(args)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    runtime.block_on(serve(config))?;
    Ok(ExitCode::SUCCESS)
}

/// Merges the configuration file, the flags and the environment.
fn build_config(args: EmulatorArgs) -> anyhow::Result<EmulatorConfig> {
    let mut config = match &args.config {
        Some(path) => EmulatorConfig::from_toml_file(path)?,
        None => EmulatorConfig::default(),
    };

    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(data_dir) = args.data_dir {
        config.data_dir = data_dir;
    }
    if let Some(region) = args.region {
        config.region = region;
    }
    if let Some(bits) = args.callback_key_bits {
        config.callback_key_bits = bits;
    }
    if let Some(path) = args.callback_key_path {
        config.callback_key_path = Some(path);
    }
    if let Some(timeout) = args.callback_timeout {
        config.callback_timeout = timeout;
    }
    if args.no_test_hooks {
        config.test_hooks = false;
    }

    for spec in &args.buckets {
        let mut bucket = parse_bucket(spec)?;
        if !args.cors_origins.is_empty() {
            let origins: Vec<&str> = args.cors_origins.iter().map(String::as_str).collect();
            bucket
                .cors
                .push(CorsRule::permissive(&origins, &["POST", "GET", "HEAD"]));
        }
        config.buckets.retain(|b| b.name != bucket.name);
        config.buckets.push(bucket);
    }
    if !args.cors_origins.is_empty() && args.buckets.is_empty() {
        anyhow::bail!(
            "--cors-origin applies to the buckets given with --bucket; add --bucket NAME"
        );
    }
    if config.buckets.is_empty() {
        anyhow::bail!(
            "no bucket configured: pass --bucket NAME or add a [[buckets]] table to the configuration file"
        );
    }

    if let Some(credential) = credential_from_env()? {
        config
            .credentials
            .retain(|c| c.access_key_id != credential.access_key_id);
        config.credentials.push(credential);
    }
    if config.credentials.is_empty() {
        tracing::warn!(
            "no credentials configured: only anonymous uploads to public-read-write buckets will succeed; \
             set OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET or add [[credentials]] to the configuration file"
        );
    }

    config.validate()?;
    Ok(config)
}

fn parse_bucket(spec: &str) -> anyhow::Result<BucketConfig> {
    let (name, acl) = match spec.split_once(':') {
        None => (spec, BucketAcl::Private),
        Some((name, "private")) => (name, BucketAcl::Private),
        Some((name, "public-read")) => (name, BucketAcl::PublicRead),
        Some((name, "public-read-write")) => (name, BucketAcl::PublicReadWrite),
        Some((_, acl)) => anyhow::bail!(
            "invalid ACL {acl:?} in --bucket {spec:?}: use private, public-read or public-read-write"
        ),
    };
    let mut bucket = BucketConfig::new(name);
    bucket.acl = acl;
    Ok(bucket)
}

/// Reads one AccessKey pair from `OSS_ACCESS_KEY_ID`/`OSS_ACCESS_KEY_SECRET`
/// (and `OSS_SESSION_TOKEN` for STS).
fn credential_from_env() -> anyhow::Result<Option<CredentialConfig>> {
    let id = std::env::var("OSS_ACCESS_KEY_ID")
        .ok()
        .filter(|v| !v.is_empty());
    let secret = std::env::var("OSS_ACCESS_KEY_SECRET")
        .ok()
        .filter(|v| !v.is_empty());
    let token = std::env::var("OSS_SESSION_TOKEN")
        .ok()
        .filter(|v| !v.is_empty());
    match (id, secret) {
        (None, None) => Ok(None),
        (Some(id), Some(secret)) => {
            let mut credential = CredentialConfig::new(id, secret);
            credential.security_token = token;
            Ok(Some(credential))
        }
        (Some(_), None) => {
            anyhow::bail!("OSS_ACCESS_KEY_ID is set but OSS_ACCESS_KEY_SECRET is not")
        }
        (None, Some(_)) => {
            anyhow::bail!("OSS_ACCESS_KEY_SECRET is set but OSS_ACCESS_KEY_ID is not")
        }
    }
}

async fn serve(config: EmulatorConfig) -> anyhow::Result<()> {
    let listen = config.listen;
    let emulator = ossgate_emulator::Emulator::new(config)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("failed to listen on {listen}"))?;
    let address = listener.local_addr()?;

    println!("Emulator listening on http://{address}");
    std::io::stdout().flush()?;

    ossgate_emulator::serve(emulator, listener, super::shutdown_signal())
        .await
        .context("the emulator stopped with an error")
}
