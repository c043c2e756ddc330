//! One module per subcommand group. Each exposes its clap arguments and a
//! `run` function returning the process exit code.

pub mod callback;
pub mod emulator;
pub mod policy;
pub mod serve;

use std::io::IsTerminal as _;

/// The log format on standard error.
#[derive(Clone, Copy, Debug, Default, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Installs the tracing subscriber: `RUST_LOG` or `info`, on standard error,
/// with colours only when standard error is a terminal.
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    // A subscriber may already be installed (e.g. by a test harness); keep it.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Formats an error and its causes as `error: cause: cause`, naming each
/// cause once. Many error types already include their source in their own
/// message, and printing the chain as well would repeat it, so a cause whose
/// text the message so far already contains is left out.
pub fn error_message(error: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if message.contains(&text) {
            continue;
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&text);
    }
    message
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "failed to listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "failed to listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();

    tokio::select! {
        () = ctrl_c => tracing::info!("received Ctrl-C, shutting down"),
        () = terminate => tracing::info!("received SIGTERM, shutting down"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error that, like many `thiserror` types, includes its source in its
    /// own message and also returns it from `source()`.
    #[derive(Debug)]
    struct OpenError {
        source: std::io::Error,
    }

    impl std::fmt::Display for OpenError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "cannot open the database x.db: {}", self.source)
        }
    }

    impl std::error::Error for OpenError {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.source)
        }
    }

    #[test]
    fn error_message_names_each_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, "file is not a database");
        let error = anyhow::Error::new(OpenError { source: io }).context("cannot start");
        assert_eq!(
            error_message(&error),
            "cannot start: cannot open the database x.db: file is not a database"
        );
    }

    #[test]
    fn error_message_keeps_distinct_causes() {
        let error = anyhow::anyhow!("address in use").context("cannot listen on 127.0.0.1:1");
        assert_eq!(
            error_message(&error),
            "cannot listen on 127.0.0.1:1: address in use"
        );
    }
}
