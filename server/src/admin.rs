//! `server admin …`: the operators' commands. The same configuration and the same store as the
//! server (no SQL of its own), on a database that must already be migrated: `admin` never
//! migrates. Readable text by default, `--json` for scripts; bad input is a message and a
//! non-zero exit.

use crate::config::Config;
use app::model::{AppError, SessionId};
use app::ssr::password::PasswordHasherPool;
use app::ssr::service::{AdminTarget, ADMIN_EVENTS_SHOWN};
use app::ssr::{AuthService, Store, SystemClock};
use app::time_fmt::iso_utc;
use clap::{Args, Subcommand};
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Args, Clone, Debug)]
pub struct AdminArgs {
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Subcommand, Clone, Debug)]
pub enum AdminCommand {
    /// Look at an account.
    Account {
        #[command(subcommand)]
        command: AccountCommand,
    },
    /// End an account's sessions.
    Sessions {
        #[command(subcommand)]
        command: SessionsCommand,
    },
    /// End the account's remembered logins ("Stay logged in" and the mail app).
    ResetAutoLogin { email: String },
    /// Mark sessions that ran out and delete what the retention period no longer keeps, now.
    Purge,
    /// Check the configuration, the database connection and that its migrations are current.
    Check,
    /// A consistent copy of the SQLite database while servers run (never overwrites a file).
    Backup { path: PathBuf },
}

#[derive(Subcommand, Clone, Debug)]
pub enum AccountCommand {
    /// The account, its active sessions and its latest security events.
    Show { email: String },
}

#[derive(Subcommand, Clone, Debug)]
pub enum SessionsCommand {
    /// End one session (`--session ID`) or all of them (`--all`); the person sees "Ended by the
    /// administrator".
    End {
        email: String,
        #[arg(long, conflicts_with = "all", required_unless_present = "all")]
        session: Option<String>,
        #[arg(long)]
        all: bool,
    },
}

/// What a command printed, and how it ended.
struct Outcome {
    text: String,
    json: serde_json::Value,
}

/// Runs the command; the process's exit code.
pub async fn run(config: &Config, args: &AdminArgs) -> i32 {
    match execute(config, args).await {
        Ok(out) => {
            if args.json {
                println!("{}", out.json);
            } else {
                println!("{}", out.text);
            }
            0
        }
        Err(message) => {
            if args.json {
                println!("{}", json!({ "error": message }));
            } else {
                eprintln!("error: {message}");
            }
            1
        }
    }
}

async fn execute(config: &Config, args: &AdminArgs) -> Result<Outcome, String> {
    let store = Store::open_current(&config.database_url).await.map_err(|e| e.to_string())?;
    let auth = AuthService::new(
        store.clone(),
        Arc::new(SystemClock),
        config.session_policy(),
        PasswordHasherPool::new(1, config.hash_queue_timeout()),
    )
    .with_throttle(config.throttle_policy());
    let result = command(&auth, args).await;
    store.close().await;
    result
}

fn no_account(email: &str) -> impl Fn(AppError) -> String + '_ {
    move |e| match e {
        AppError::NotFound => format!("there is no account with the e-mail address {email}"),
        other => other.to_string(),
    }
}

async fn command(auth: &AuthService, args: &AdminArgs) -> Result<Outcome, String> {
    match &args.command {
        AdminCommand::Account { command: AccountCommand::Show { email } } => {
            let account = auth.admin_account(email).await.map_err(no_account(email))?;
            let mut text = format!("{} <{}> (account {})\n", account.name, account.email, account.id);
            text.push_str(&format!("\nActive sessions: {}\n", account.sessions.len()));
            for s in &account.sessions {
                text.push_str(&format!(
                    "  {}  {}  {}  {}{}  logged in {}  last active {}\n",
                    s.id,
                    s.device,
                    s.ip,
                    s.kind.as_str(),
                    if s.auto_login { " (stays logged in)" } else { "" },
                    iso_utc(s.created_at),
                    iso_utc(s.last_active_at)
                ));
            }
            text.push_str(&format!("\nLatest security events (at most {ADMIN_EVENTS_SHOWN}):\n"));
            for e in &account.events {
                text.push_str(&format!(
                    "  {}  {}  {}  {}\n",
                    iso_utc(e.at),
                    e.what(),
                    e.device.as_deref().unwrap_or("-"),
                    e.ip.as_deref().unwrap_or("-")
                ));
            }
            let json = serde_json::to_value(&account).map_err(|e| e.to_string())?;
            Ok(Outcome { text: text.trim_end().to_string(), json })
        }
        AdminCommand::Sessions { command: SessionsCommand::End { email, session, all } } => {
            let target = match (session, all) {
                (Some(id), false) => AdminTarget::One(SessionId(id.clone())),
                (None, true) => AdminTarget::All,
                _ => return Err("give exactly one of --session ID and --all".into()),
            };
            let ended = auth.admin_end_sessions(email, &target).await.map_err(|e| match (&target, e) {
                (AdminTarget::One(id), AppError::NotFound) => {
                    format!("{email} has no session {id} (or there is no such account)")
                }
                (_, other) => no_account(email)(other),
            })?;
            let text = match (&target, ended.already_ended) {
                (AdminTarget::One(id), true) => format!("Session {id} had already ended; nothing changed."),
                (AdminTarget::One(id), false) => format!("Ended session {id} of {email}."),
                (AdminTarget::All, _) => format!("Ended {} session(s) of {email}.", ended.ended),
            };
            Ok(Outcome { text, json: serde_json::to_value(ended).map_err(|e| e.to_string())? })
        }
        AdminCommand::ResetAutoLogin { email } => {
            let ended = auth.admin_reset_auto_login(email).await.map_err(no_account(email))?;
            Ok(Outcome {
                text: format!("Reset auto-login of {email}: {ended} remembered session(s) ended."),
                json: json!({ "ended": ended }),
            })
        }
        AdminCommand::Purge => {
            let (expired, deleted) = auth.purge().await.map_err(|e| e.to_string())?;
            Ok(Outcome {
                text: format!("Marked {expired} session(s) expired; deleted {deleted} old session(s)."),
                json: json!({ "expired": expired, "deleted": deleted }),
            })
        }
        AdminCommand::Check => {
            auth.store.ping().await.map_err(|e| e.to_string())?;
            Ok(Outcome {
                text: format!(
                    "OK: configuration valid, {} database reachable, migrations current.",
                    auth.store.backend_name()
                ),
                json: json!({ "ok": true, "backend": auth.store.backend_name() }),
            })
        }
        AdminCommand::Backup { path } => {
            auth.store.backup_sqlite(path).await?;
            Ok(Outcome {
                text: format!("Backed up to {} (readable by its owner only).", path.display()),
                json: json!({ "path": path.display().to_string() }),
            })
        }
    }
}
