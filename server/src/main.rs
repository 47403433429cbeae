use clap::Parser;
use server::config::{Command, Config, LogFormat};
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    let filter = |default: &str| EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    if config.command.is_some() {
        // Operators' commands print their answer on stdout: only warnings, on stderr.
        tracing_subscriber::fmt()
            .with_env_filter(filter("warn"))
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .init();
    } else if config.log_format == LogFormat::Json {
        // One JSON object per line, with the request's span (its request id) in each.
        tracing_subscriber::fmt().json().with_current_span(true).with_env_filter(filter("info,sqlx=warn")).init();
    } else {
        // Colours only for a person at a terminal: a log file or a shipper gets plain text (and
        // every request's span is formatted without them, which it felt: bench/results.md).
        tracing_subscriber::fmt()
            .with_env_filter(filter("info,sqlx=warn"))
            .with_ansi(std::io::stdout().is_terminal())
            .init();
    }
    match &config.command {
        Some(Command::Admin(args)) => std::process::exit(server::admin::run(&config, args).await),
        None => server::serve(config).await,
    }
}
