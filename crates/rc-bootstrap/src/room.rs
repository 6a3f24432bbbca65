//! Step 3: the room (public channel or private group, read-only when asked), the bot's
//! membership as the bot itself sees it, and its right to post there.

use crate::status::{Action, Status};
use crate::Bootstrap;
use rc_client::rules::{self, PostBlocks};
use rc_client::{Room, RoomKind, User};
use sidecar::Failure;

impl Bootstrap<'_> {
    pub(crate) fn ensure_room(&mut self, bot_user: Option<&User>) -> Result<(), Failure> {
        let cfg = self.cfg;
        let (kind, other) = if cfg.private {
            (RoomKind::Group, RoomKind::Channel)
        } else {
            (RoomKind::Channel, RoomKind::Group)
        };
        let name = cfg.room.as_str();
        let mut room = self
            .admin
            .kind_info(kind, name)
            .map_err(|e| e.failure(&format!("looking up #{name}")))?;
        if room.is_none() {
            if let Ok(Some(_)) = self.admin.kind_info(other, name) {
                return Err(Failure::refused(format!(
                    "#{name} exists as a {}, not a {}: fix --private or rename one of them",
                    other.noun(),
                    kind.noun()
                )));
            }
        }
        let mut invited_at_creation = false;
        match &room {
            Some(r) if cfg.read_only && !r.ro => {
                if cfg.dry_run {
                    self.set("room", Status::planned(Action::SetReadOnly));
                } else {
                    self.admin
                        .set_read_only(kind, &r.id, true)
                        .map_err(|e| e.failure(&format!("making #{name} read-only")))?;
                    room = self
                        .admin
                        .kind_info(kind, name)
                        .map_err(|e| e.failure(&format!("looking up #{name}")))?;
                    self.set("room", Status::done(Action::SetReadOnly).with("read-only"));
                }
            }
            Some(_) => self.set("room", Status::UNCHANGED),
            None if cfg.dry_run => {
                self.set("room", Status::planned(Action::Create).with(kind.noun()));
                self.set("membership", Status::planned(Action::Invite));
                return Ok(());
            }
            None => {
                let members: Vec<&str> = bot_user
                    .map(|_| cfg.bot_user.as_str())
                    .into_iter()
                    .collect();
                let created = self
                    .admin
                    .create_room(kind, name, &members, cfg.read_only)
                    .map_err(|e| match e.error.as_str() {
                        "error-duplicate-channel-name" => Failure::refused(format!(
                            "#{name} already exists but the admin cannot see it (a private group it is not in?): {e}"
                        )),
                        _ => e.failure(&format!("creating #{name}")),
                    })?;
                invited_at_creation = !members.is_empty();
                room = Some(created);
                self.set("room", Status::done(Action::Create).with(kind.noun()));
            }
        }
        let Some(room) = room else {
            return Ok(());
        };
        let Some(bot_user) = bot_user else {
            self.set("membership", Status::planned(Action::Invite));
            return Ok(());
        };
        let is_moderator = match self.membership(kind, &room, bot_user, invited_at_creation)? {
            Some(moderator) => moderator,
            None => return Ok(()),
        };
        self.ensure_post_rights(kind, &room, bot_user, is_moderator)
    }

    /// The bot's subscription, inviting it when missing. Some(holds a moderator/owner role
    /// there); None: a dry run that would invite it.
    fn membership(
        &mut self,
        kind: RoomKind,
        room: &Room,
        bot_user: &User,
        invited_at_creation: bool,
    ) -> Result<Option<bool>, Failure> {
        let (cfg, name) = (self.cfg, self.cfg.room.as_str());
        let sub = self
            .bot
            .subscription(&room.id)
            .map_err(|e| e.failure("reading the bot's subscription"))?;
        let sub = match sub {
            Some(s) => {
                let status = if invited_at_creation {
                    Status::done(Action::AddAtCreation)
                } else {
                    Status::UNCHANGED
                };
                self.set("membership", status);
                s
            }
            None if cfg.dry_run => {
                self.set("membership", Status::planned(Action::Invite));
                return Ok(None);
            }
            None => {
                self.admin
                    .invite(kind, &room.id, &bot_user.id)
                    .map_err(|e| e.failure(&format!("inviting {} to #{name}", cfg.bot_user)))?;
                self.set("membership", Status::done(Action::Invite));
                self.bot
                    .subscription(&room.id)
                    .map_err(|e| e.failure("reading the bot's subscription"))?
                    .ok_or_else(|| {
                        Failure::refused(format!(
                            "invited {} to #{name} but it has no subscription there",
                            cfg.bot_user
                        ))
                    })?
            }
        };
        Ok(Some(sub.may_post_readonly()))
    }

    /// The one posting rule (rc_client::rules): a muted bot is refused, a read-only room gets
    /// the bot made moderator (which holds post-readonly).
    fn ensure_post_rights(
        &mut self,
        kind: RoomKind,
        room: &Room,
        bot_user: &User,
        is_moderator: bool,
    ) -> Result<(), Failure> {
        let (cfg, name) = (self.cfg, self.cfg.bot_user.as_str());
        let blocks = PostBlocks::of(room, name, is_moderator);
        if blocks.muted {
            return Err(rules::muted(&cfg.room, name));
        }
        if !blocks.read_only {
            if room.ro {
                self.set("post_rights", Status::UNCHANGED);
            }
            return Ok(());
        }
        if cfg.dry_run {
            self.set("post_rights", Status::planned(Action::GrantModerator));
            return Ok(());
        }
        self.admin
            .add_moderator(kind, &room.id, &bot_user.id)
            .map_err(|e| {
                e.failure(&format!(
                    "making {name} moderator of read-only #{}",
                    cfg.room
                ))
            })?;
        self.set("post_rights", Status::done(Action::GrantModerator));
        Ok(())
    }
}
