//! `streambench`: see `streambench --help`.

use clap::Parser;
use streambench::cli::{Cli, Command};
use streambench::commands;

fn main() {
    let cli = Cli::parse();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = match &cli.command {
        Command::Gen(args) => commands::gen(args, &mut out),
        Command::Baseline(args) => commands::baseline(args, &mut out).map(|_| ()),
    };
    if let Err(e) = result {
        // A closed pipe (e.g. `| head`) is not an error.
        if e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) {
            return;
        }
        eprintln!("error: {e:#}");
        std::process::exit(2);
    }
}
