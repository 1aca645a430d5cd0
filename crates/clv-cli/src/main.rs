//! `clv`: customer-value analytics on transaction files from the command line.

#![deny(unsafe_code)]

mod cli;
mod cli_segments;
mod columns;
mod commands;
mod error;
mod files;
mod input;
mod locate;
mod output;
mod progress;
mod sample;
mod session;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use cli::{Cli, Command};
use error::{CliError, Kind};

async fn run(cli: Cli) -> error::Result<()> {
    let global = cli.global;
    output::set_full_precision(global.full_precision);
    match cli.command {
        Command::Rfm(a) => commands::rfm::run(&global, a).await,
        Command::Summary(a) => commands::summary::run(&global, a).await,
        Command::Cohorts(a) => commands::cohorts::run(&global, a).await,
        Command::Churn(c) => commands::churn::run(&global, c).await,
        Command::Fit(a) => commands::models::fit(&global, a).await,
        Command::Predict(a) => commands::models::predict(&global, a).await,
        Command::Compare(a) => commands::compare::run(&global, a).await,
        Command::Report(a) => commands::report::run(&global, a).await,
        Command::Sql(a) => commands::sql::run(&global, a).await,
        Command::Tune(a) => commands::tune::run(&global, a).await,
        Command::Segments(c) => commands::segments::run(&global, c).await,
        Command::Schemes(a) => commands::schemes::run(&global, a).await,
    }
}

fn main() -> ExitCode {
    // `clv … | head` ends quietly when the reader goes away, like other Unix tools.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    #[allow(unsafe_code)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    if std::env::args_os().len() <= 1 {
        let mut command = Cli::command();
        // The help ends with the one-line demo on the bundled CDNOW data.
        print!("{}", command.render_help());
        return ExitCode::SUCCESS;
    }
    let cli = Cli::parse();
    // Deep plans recurse when they are optimised and, on a cluster, (de)serialised: 32 MiB stacks
    // like clv-scheduler's.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(32 * 1024 * 1024)
        .build()
    {
        Ok(r) => r,
        Err(e) => return report(CliError::internal(format!("cannot start the runtime: {e}"))),
    };
    // A panic is a bug: report it on one line with the internal-error exit code.
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        eprintln!(
            "error: internal error (please report it): panic{location}: {}",
            message.replace('\n', " ")
        );
    }));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runtime.block_on(run(cli))));
    match result {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => report(e),
        Err(_) => Kind::Internal.exit_code(),
    }
}

fn report(e: CliError) -> ExitCode {
    eprintln!("error: {}", e.line());
    e.kind.exit_code()
}
