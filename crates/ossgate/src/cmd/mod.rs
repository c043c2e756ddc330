//! One module per subcommand group. Each exposes its clap arguments and a
//! `run` function returning the process exit code.

pub mod callback;
pub mod emulator;
pub mod policy;
pub mod serve;
