//! `ossgate serve`, `ossgate dev` and `ossgate config check`.
//!
//! Settings come from a TOML file (`--config`), the environment (`OSSGATE_*`
//! and Alibaba Cloud's credential variables) and the flags below, in rising
//! priority. Secrets are never flags: they come from the file or the
//! environment.

use super::{init_logging, LogFormat};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use ossgate_server::config::{ConfigSources, Mode, ServerConfig};
use ossgate_server::{DevOptions, DevServer};

/// Settings shared by `serve`, `dev` and `config check`.
#[derive(Debug, Default, clap::Args)]
pub struct CommonArgs {
    /// TOML configuration file; the environment and flags override its values.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Token (and policy) lifetime in seconds [default: 300].
    #[arg(long, value_name = "SECS")]
    token_lifetime: Option<u64>,

    /// Maximum upload size in bytes [default: 10485760].
    #[arg(long, value_name = "BYTES")]
    max_size: Option<u64>,

    /// Allowed content types, comma-separated, e.g. "image/png,image/jpeg"
    /// [default: any].
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    content_types: Option<Vec<String>>,

    /// PostObject signature version: 4 (OSS4-HMAC-SHA256) or 1 [default: 4].
    #[arg(long, value_name = "1|4")]
    signature_version: Option<String>,

    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Debug, Default, clap::Args)]
pub struct DevArgs {
    /// Address of the app server; port 0 picks a free port [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,

    /// Address of the embedded emulator [default: 127.0.0.1:0, a free port].
    #[arg(long, value_name = "ADDR")]
    emulator_listen: Option<SocketAddr>,

    /// Directory for uploaded objects, the database and the dev credentials
    /// [default: ./.ossgate-dev].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,

    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,

    /// Bucket name.
    #[arg(long, value_name = "NAME")]
    bucket: Option<String>,

    /// Region, e.g. cn-hangzhou (an "oss-" prefix is accepted).
    #[arg(long, value_name = "REGION")]
    region: Option<String>,

    /// URL browsers POST forms to [default: https://<bucket>.oss-<region>.aliyuncs.com].
    #[arg(long, value_name = "URL")]
    bucket_url: Option<String>,

    /// Public URL OSS sends upload callbacks to.
    #[arg(long, value_name = "URL")]
    callback_url: Option<String>,

    /// SQLite database file [default: ossgate.db].
    #[arg(long, value_name = "FILE")]
    database: Option<String>,

    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the settings `ossgate serve` would use and print them, with
    /// secrets redacted. Exits with 1 when they are invalid.
    Check(ServeArgs),
}

impl CommonArgs {
    /// Collects the settings sources: the file, the process environment and
    /// these flags.
    ///
    /// # Errors
    ///
    /// `--content-types` has a blank entry or is blank.
    fn sources(&self) -> anyhow::Result<ConfigSources> {
        let mut sources = ConfigSources::from_process_env(self.config.clone());
        if let Some(lifetime) = self.token_lifetime {
            sources.set("upload.token_lifetime", to_toml_integer(lifetime));
        }
        if let Some(max_size) = self.max_size {
            sources.set("upload.max_size", to_toml_integer(max_size));
        }
        if let Some(types) = &self.content_types {
            // An empty list allows every content type, so a blank flag or a
            // stray comma must not silently become one.
            let types: Vec<String> = types.iter().map(|value| value.trim().to_owned()).collect();
            if types.iter().any(String::is_empty) {
                anyhow::bail!(
                    "invalid --content-types {:?} for upload.content_types: an entry is blank; \
                     list the allowed types comma-separated, e.g. \"image/png,image/jpeg\", or \
                     leave out the flag to allow any type",
                    types.join(",")
                );
            }
            sources.set("upload.content_types", types);
        }
        if let Some(version) = &self.signature_version {
            sources.set("oss.signature_version", version.clone());
        }
        Ok(sources)
    }
}

impl ServeArgs {
    fn sources(&self) -> anyhow::Result<ConfigSources> {
        let mut sources = self.common.sources()?;
        if let Some(listen) = self.listen {
            sources.set("listen", listen.to_string());
        }
        let texts = [
            ("oss.bucket", &self.bucket),
            ("oss.region", &self.region),
            ("oss.bucket_url", &self.bucket_url),
            ("callback.url", &self.callback_url),
            ("database", &self.database),
        ];
        for (path, value) in texts {
            if let Some(value) = value {
                sources.set(path, value.clone());
            }
        }
        Ok(sources)
    }
}

/// TOML integers are signed; larger values are left for validation to reject.
fn to_toml_integer(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")
}

/// `ossgate dev`: the app server and an embedded emulator on 127.0.0.1.
pub fn run_dev(args: DevArgs) -> anyhow::Result<ExitCode> {
    init_logging(args.common.log_format);
    let defaults = DevOptions::default();
    let sources = args.common.sources()?;
    for warning in sources.unknown_env_warnings() {
        tracing::warn!("{warning}");
    }

    // Without --listen, `listen` from the file or OSSGATE_LISTEN applies, so
    // a bare `ossgate` can be moved off port 8080.
    let configured_listen = match sources
        .load()
        .map_err(|errors| anyhow::anyhow!("{errors}"))?
        .listen
    {
        Some(text) => Some(text.parse::<SocketAddr>().with_context(|| {
            format!("invalid listen address {text:?}: give IP:PORT, e.g. 127.0.0.1:8080")
        })?),
        None => None,
    };
    let options = DevOptions {
        listen: args.listen.or(configured_listen).unwrap_or(defaults.listen),
        emulator_listen: args.emulator_listen.unwrap_or(defaults.emulator_listen),
        data_dir: args.data_dir.unwrap_or(defaults.data_dir),
        sources,
    };

    runtime()?.block_on(async {
        let server = DevServer::start(options).await?;

        // Tests read these two lines; logs go to stderr.
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "Emulator listening on {}", server.emulator_url)?;
        writeln!(stdout, "Open {}/ in your browser", server.app_url)?;
        stdout.flush()?;
        drop(stdout);

        server.run_until(super::shutdown_signal()).await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// `ossgate serve`: the app server against real OSS.
pub fn run_serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    init_logging(args.common.log_format);
    let sources = args.sources()?;
    for warning in sources.unknown_env_warnings() {
        tracing::warn!("{warning}");
    }
    let config = match ServerConfig::load(&sources, Mode::Serve) {
        Ok(config) => config,
        Err(errors) => {
            eprintln!("error: {errors}");
            return Ok(ExitCode::from(1));
        }
    };
    tracing::info!(
        bucket = %config.bucket,
        bucket_url = %config.bucket_url,
        signature_version = ossgate_server::config::version_name(config.signature_version),
        auth_mode = config.auth.mode_name(),
        callback_url = %config.callback_url,
        "settings loaded"
    );
    warn_about(&config);

    runtime()?.block_on(async {
        let listen = config.listen;
        let (state, router) = ossgate_server::build(config).await?;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| {
                format!("cannot listen on {listen}; pick a free address with --listen")
            })?;
        tracing::info!(address = %listener.local_addr()?, "app server listening");
        ossgate_server::serve(listener, router, super::shutdown_signal()).await?;
        state.db().close().await;
        tracing::info!("app server stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// `ossgate config check`.
pub fn run_config(command: ConfigCommand) -> anyhow::Result<ExitCode> {
    match command {
        ConfigCommand::Check(args) => {
            let sources = args.sources()?;
            for warning in sources.unknown_env_warnings() {
                eprintln!("warning: {warning}");
            }
            check_config(&sources)
        }
    }
}

fn check_config(sources: &ConfigSources) -> anyhow::Result<ExitCode> {
    match ServerConfig::load(sources, Mode::Serve) {
        Ok(config) => {
            for warning in warnings(&config) {
                eprintln!("warning: {warning}");
            }
            print!("{}", config.describe());
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            eprintln!("error: {errors}");
            Ok(ExitCode::from(1))
        }
    }
}

fn warnings(config: &ServerConfig) -> Vec<String> {
    let mut warnings = Vec::new();
    if let Some(warning) = config.callback_url_warning() {
        warnings.push(warning);
    }
    if config.auth.mode_name() == "none" {
        warnings.push(
            "auth.mode is \"none\": anyone who reaches the server can upload as the user \"dev\"; \
             use \"bearer\" or \"jwt\" in production"
                .to_owned(),
        );
    }
    warnings
}

fn warn_about(config: &ServerConfig) {
    for warning in warnings(config) {
        tracing::warn!("{warning}");
    }
}
