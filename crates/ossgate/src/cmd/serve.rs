//! `ossgate serve`, `ossgate dev` and `ossgate config check`.

use std::process::ExitCode;

use clap::Subcommand;

#[derive(Debug, Default, clap::Args)]
pub struct DevArgs {}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {}

pub fn run_dev(args: DevArgs) -> anyhow::Result<ExitCode> {
    let _ = args;
    anyhow::bail!("the app server is not built yet")
}

pub fn run_serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let _ = args;
    anyhow::bail!("the app server is not built yet")
}

pub fn run_config(command: ConfigCommand) -> anyhow::Result<ExitCode> {
    match command {}
}
