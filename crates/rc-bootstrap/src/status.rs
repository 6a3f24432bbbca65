//! What a run did to each object, as data: the report's words are derived from it, and
//! "did anything change" is a match, not a string prefix.

use std::fmt;

/// The change rc-bootstrap makes (or, in a dry run, would make) to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Register,
    Update,
    Recreate,
    SetReadOnly,
    FixDrift,
    Invite,
    /// The bot became a member when the room was created with it.
    AddAtCreation,
    GrantModerator,
    Write,
}

impl Action {
    fn done(self) -> &'static str {
        match self {
            Action::Create => "created",
            Action::Register => "registered",
            Action::Update | Action::SetReadOnly | Action::FixDrift => "updated",
            Action::Recreate => "recreated",
            Action::Invite => "invited",
            Action::AddAtCreation => "added at creation",
            Action::GrantModerator => "moderator granted",
            Action::Write => "written",
        }
    }

    fn planned(self) -> &'static str {
        match self {
            Action::Create => "would create",
            Action::Register => "would register",
            Action::Update => "would update",
            Action::Recreate => "would recreate",
            Action::SetReadOnly => "would set read-only",
            Action::FixDrift => "would fix drift",
            Action::Invite | Action::AddAtCreation => "would invite",
            Action::GrantModerator => "would make moderator",
            Action::Write => "would write",
        }
    }
}

/// One object's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Already as configured; `how` says how it was seen ("logged in").
    Unchanged { how: Option<&'static str> },
    /// Changed by this run.
    Done {
        action: Action,
        detail: Option<String>,
    },
    /// Dry run: what a real run would change.
    Planned {
        action: Action,
        detail: Option<String>,
    },
}

impl Status {
    pub const UNCHANGED: Status = Status::Unchanged { how: None };

    pub fn done(action: Action) -> Status {
        Status::Done {
            action,
            detail: None,
        }
    }

    pub fn planned(action: Action) -> Status {
        Status::Planned {
            action,
            detail: None,
        }
    }

    /// `done` or `planned` (dry run) of `action`.
    pub fn of(dry_run: bool, action: Action) -> Status {
        if dry_run {
            Status::planned(action)
        } else {
            Status::done(action)
        }
    }

    pub fn with(self, text: impl Into<String>) -> Status {
        let detail = Some(text.into());
        match self {
            Status::Done { action, .. } => Status::Done { action, detail },
            Status::Planned { action, .. } => Status::Planned { action, detail },
            unchanged => unchanged,
        }
    }

    pub fn is_change(&self) -> bool {
        !matches!(self, Status::Unchanged { .. })
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (word, detail) = match self {
            Status::Unchanged { how } => ("unchanged", how.map(str::to_string)),
            Status::Done { action, detail } => (action.done(), detail.clone()),
            Status::Planned { action, detail } => (action.planned(), detail.clone()),
        };
        match detail {
            Some(d) => write!(f, "{word} ({d})"),
            None => f.write_str(word),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_as_before() {
        let cases = [
            (Status::UNCHANGED, "unchanged"),
            (
                Status::Unchanged {
                    how: Some("logged in"),
                },
                "unchanged (logged in)",
            ),
            (
                Status::done(Action::Register).with("first user, admin"),
                "registered (first user, admin)",
            ),
            (
                Status::done(Action::SetReadOnly).with("read-only"),
                "updated (read-only)",
            ),
            (
                Status::done(Action::FixDrift).with("drift fixed"),
                "updated (drift fixed)",
            ),
            (Status::planned(Action::FixDrift), "would fix drift"),
            (
                Status::planned(Action::GrantModerator),
                "would make moderator",
            ),
            (Status::done(Action::AddAtCreation), "added at creation"),
            (
                Status::planned(Action::Create).with("channel"),
                "would create (channel)",
            ),
        ];
        for (status, text) in cases {
            assert_eq!(status.to_string(), text);
        }
        assert!(!Status::UNCHANGED.is_change());
        assert!(Status::planned(Action::Write).is_change());
    }
}
