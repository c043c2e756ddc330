//! The `ossgate` command: the app server, the local OSS emulator and offline
//! tools for policies and callbacks.
//!
//! With no subcommand it runs `ossgate dev`: the app server and an embedded
//! emulator on one machine, so `cargo run --release` shows the whole flow.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;

/// The global allocator is mimalloc, because a token request makes a few dozen
/// short-lived allocations and glibc's malloc and free took about a tenth of
/// the server's CPU under the token load of `bench/load.sh`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "ossgate",
    version,
    about = "Direct browser uploads to Alibaba Cloud OSS"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the app server and an embedded OSS emulator on 127.0.0.1 (the default).
    Dev(cmd::serve::DevArgs),
    /// Run the app server against real OSS.
    Serve(cmd::serve::ServeArgs),
    /// Inspect the effective configuration.
    #[command(subcommand)]
    Config(cmd::serve::ConfigCommand),
    /// Run the local OSS emulator on its own.
    Emulator(cmd::emulator::EmulatorArgs),
    /// Sign or check PostObject policies offline.
    #[command(subcommand)]
    Policy(cmd::policy::PolicyCommand),
    /// Verify upload callbacks offline.
    #[command(subcommand)]
    Callback(cmd::callback::CallbackCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli
        .command
        .unwrap_or_else(|| Command::Dev(cmd::serve::DevArgs::default()));
    let result = match command {
        Command::Dev(args) => cmd::serve::run_dev(args),
        Command::Serve(args) => cmd::serve::run_serve(args),
        Command::Config(command) => cmd::serve::run_config(command),
        Command::Emulator(args) => cmd::emulator::run(args),
        Command::Policy(command) => cmd::policy::run(command),
        Command::Callback(command) => cmd::callback::run(command),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", cmd::error_message(&error));
            ExitCode::from(2)
        }
    }
}
