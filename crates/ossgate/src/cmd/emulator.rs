//! `ossgate emulator`: the local OSS emulator on its own.

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct EmulatorArgs {}

pub fn run(args: EmulatorArgs) -> anyhow::Result<ExitCode> {
    let _ = args;
    anyhow::bail!("the emulator is not built yet")
}
