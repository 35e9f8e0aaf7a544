//! `streambench`: see `streambench --help`.

use clap::Parser;
use tracing_subscriber::fmt::format::FmtSpan;

// Records cross worker threads (allocated by one, freed by another): glibc's allocator slows
// down on that pattern, mimalloc does not.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use streambench::cli::{Cli, Command};
use streambench::commands;
use streambench::output::write_json;
use streambench::progress::Display;

fn main() {
    let cli = Cli::parse();
    match cli.log_filter() {
        Ok(filter) => {
            let verbose = filter.max_level_hint().is_some_and(|l| l >= tracing::Level::DEBUG);
            // At debug, each batch's and stage's span says how long it took when it closes.
            let spans = if verbose { FmtSpan::CLOSE } else { FmtSpan::NONE };
            tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_span_events(spans)
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .init();
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
    let result = run(&cli.command);
    if let Err(e) = result {
        // A closed pipe (e.g. `| head`) is not an error.
        if e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) {
            return;
        }
        eprintln!("error: {e:#}");
        std::process::exit(2);
    }
}

/// Runs one subcommand and prints what it returns.
fn run(command: &Command) -> anyhow::Result<()> {
    // Not locked for the whole run: timely's threads print to stdout while connecting.
    let mut out = std::io::stdout();
    match command {
        Command::Gen(args) => commands::gen::gen(args, &mut out),
        Command::Baseline(args) => commands::baseline::baseline(args, &mut out).map(|_| ()),
        Command::Run(args) => {
            // A cluster's processes are watched by `streambench cluster`, which shows its own.
            streambench::engine::show_live_status(args.processes == 1);
            commands::run::run(args).map(|r| {
                if let (Some(r), Some(_)) = (r, &args.out) {
                    eprintln!("{}", streambench::report::one_line(&r));
                }
            })
        }
        Command::Cluster(args) => {
            commands::cluster::cluster(args).map(|r| eprintln!("{}", streambench::report::one_line(&r)))
        }
        Command::Compare(args) => commands::compare::compare(args, &mut Display::new()).map(|s| {
            let failed = s.runs.iter().filter(|r| !r.correct).count();
            if failed > 0 {
                eprintln!("{failed} run(s) failed or were incorrect: see {}", args.out.join("report.md").display());
            }
        }),
        Command::Check(args) => commands::check::run(args).map(|outcome| {
            for line in &outcome.lines {
                println!("{line}");
            }
            if !outcome.pass {
                std::process::exit(1);
            }
        }),
        Command::Counts(args) => counts(args),
        Command::Plot(args) => commands::plot::run(args)
            .map(|plots| eprintln!("redrew {plots} plots and report.md in {}", args.dir.display())),
        Command::Experiment(args) => experiment(args),
        Command::Chaos(args) => commands::chaos::chaos(args, &mut Display::new()).and_then(|s| {
            let failed: u64 = s.rows.iter().map(|r| r.runs - r.correct_runs).sum();
            if failed > 0 {
                anyhow::bail!("{failed} chaos run(s) were incorrect: see {}", args.out.join("chaos.md").display());
            }
            Ok(())
        }),
        Command::Sweep(args) => commands::sweep::sweep(args, &mut Display::new()).map(|points| {
            eprintln!("wrote {} runs and plots under {}", points.len(), args.out.display());
        }),
        Command::Sustainable(args) => commands::sustainable::sustainable(args, &mut Display::new()).map(|(rate, _)| {
            println!("sustainable rate: {rate:.0} records/s");
        }),
        Command::Merge(args) => commands::merge::merge(&args.parts).and_then(|r| {
            write_json(args.out.as_deref(), &r)?;
            eprintln!("{}", streambench::report::one_line(&r));
            Ok(())
        }),
        Command::Feed(args) => commands::feed::feed(args).map(|s| {
            eprintln!(
                "feed: sent {} events in {:.2} s ({:.0}/s)",
                s.events,
                s.seconds,
                s.events as f64 / s.seconds.max(1e-9)
            )
        }),
    }
}

/// `streambench experiment`: the runs, or with `--list` their names.
fn experiment(args: &commands::experiment::ExperimentArgs) -> anyhow::Result<()> {
    if args.list {
        let lines = commands::experiment::list(args)?;
        for line in &lines {
            println!("{line}");
        }
        eprintln!("{} runs", lines.len());
        return Ok(());
    }
    let s = commands::experiment::experiment(args, &mut Display::new())?;
    let failed = s.runs.iter().filter(|r| !r.correct).count();
    eprintln!("{} runs ({failed} failed or incorrect): see {}", s.runs.len(), args.out.join("report.md").display());
    Ok(())
}

/// `streambench counts`: the counted gate's lines; exits 1 when it fails.
fn counts(args: &commands::counts::CountsArgs) -> anyhow::Result<()> {
    let outcome = commands::counts::counts(args, &mut |l| eprintln!("{l}"))?;
    if let Some(c) = outcome.comparison {
        for line in &c.lines {
            println!("{line}");
        }
        if !c.pass() {
            eprintln!("the counted gate failed: a figure is slower than the baseline allows, or cannot be compared");
            std::process::exit(1);
        }
    }
    Ok(())
}
