//! What an operator does from the command line (`server admin …`): look at an account, end its
//! sessions, reset its auto-logins. The same store and rules as the people's own actions; only
//! the actor differs (no session: the operator), and the reason says so (`ended_by_admin`).

use super::centre::event_view;
use super::sessions::session_view;
use super::*;
use crate::model::EventView;

/// An account as the operator sees it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct AdminAccount {
    pub id: AccountId,
    pub email: String,
    pub name: String,
    pub sessions: Vec<SessionView>,
    /// The latest security events, newest first.
    pub events: Vec<EventView>,
}

/// Which sessions `admin sessions end` ends.
#[derive(Clone, Debug)]
pub enum AdminTarget {
    One(SessionId),
    All,
}

/// What ending sessions did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AdminEnded {
    pub ended: u64,
    /// The one session asked for had ended before: nothing to do, not an error.
    pub already_ended: bool,
}

/// How many events `admin account show` lists.
pub const ADMIN_EVENTS_SHOWN: i64 = 20;

impl AuthService {
    async fn admin_account_row(&self, email: &str) -> Result<super::super::store::AccountRow, AppError> {
        self.store.account_by_email(&login_email(email)).await?.ok_or(AppError::NotFound)
    }

    /// The account of `email` (`NotFound` if none), its active sessions and latest events.
    pub async fn admin_account(&self, email: &str) -> Result<AdminAccount, AppError> {
        let account = self.admin_account_row(email).await?;
        let now = self.now();
        let sessions =
            self.store.active_sessions(account.id, now).await?.into_iter().map(|r| session_view(r, None)).collect();
        let events = self.store.activity(account.id, None, now, 0, ADMIN_EVENTS_SHOWN).await?;
        Ok(AdminAccount {
            id: account.id,
            email: account.email,
            name: account.name,
            sessions,
            events: events.into_iter().map(|r| event_view(r, None)).collect(),
        })
    }

    /// Ends one session of the account (`NotFound` if it is not one of its sessions) or all of
    /// them, with the reason `ended_by_admin`; the ended devices get their notice as for any end.
    pub async fn admin_end_sessions(&self, email: &str, target: &AdminTarget) -> Result<AdminEnded, AppError> {
        let account = self.admin_account_row(email).await?;
        let now = self.now();
        match target {
            AdminTarget::One(id) => {
                let event = Event::new(EventKind::EndedByAdmin, Some(account.id), now).target(id);
                match self.store.end_session(account.id, id, EndReason::EndedByAdmin, &event).await? {
                    EndOutcome::Ended => Ok(AdminEnded { ended: 1, already_ended: false }),
                    EndOutcome::AlreadyEnded => Ok(AdminEnded { ended: 0, already_ended: true }),
                    EndOutcome::NotFound => Err(AppError::NotFound),
                }
            }
            AdminTarget::All => {
                let event = Event::new(EventKind::EndedByAdmin, Some(account.id), now).detail("all sessions");
                let plan = BulkEnd {
                    reason: EndReason::EndedByAdmin,
                    only_auto_login: false,
                    keep: None,
                    new_password_hash: None,
                    forget_device_of: None,
                };
                let ended = self.store.end_sessions(account.id, &plan, &event).await?;
                Ok(AdminEnded { ended, already_ended: false })
            }
        }
    }

    /// Ends the account's remembered logins ("Stay logged in" and the mail app), as its owner's
    /// "Reset auto-login" does, but with no session kept.
    pub async fn admin_reset_auto_login(&self, email: &str) -> Result<u64, AppError> {
        let account = self.admin_account_row(email).await?;
        let event = Event::new(EventKind::AutoLoginReset, Some(account.id), self.now()).detail("by the administrator");
        let plan = BulkEnd {
            reason: EndReason::AutoLoginReset,
            only_auto_login: true,
            keep: None,
            new_password_hash: None,
            forget_device_of: None,
        };
        Ok(self.store.end_sessions(account.id, &plan, &event).await?)
    }
}
