//! `ossgate callback verify`.

use std::process::ExitCode;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum CallbackCommand {}

pub fn run(command: CallbackCommand) -> anyhow::Result<ExitCode> {
    match command {}
}
