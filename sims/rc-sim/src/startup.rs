//! When the ADMIN_* admin appears relative to the first answer, per release (`--admin-delay`).
//!
//! initialData (apps/meteor/server/startup/initialData.ts @ 0bfd1635) creates the admin inside
//! a `Meteor.startup(async …)` hook. What a client can see depends on the Meteor generation:
//! * Meteor 3 (Rocket.Chat ≥ 7.0; apps/meteor/.meteor/release METEOR@3.0-beta.7 @ 08bb16df):
//!   tools/static-assets/server/boot.js @ 048f4a0f `await`s every startup hook in
//!   callStartupHooks before runMain, and webapp's `main` is what starts the HTTP server: the
//!   admin exists before the first connection is accepted. A slow initialData is a late listen.
//! * Meteor 2 (Rocket.Chat 6.x; boot.js's Fiber version, search id 421051225): hooks are called,
//!   not awaited; an async hook returns at its first `await`, runMain starts listening, and the
//!   admin appears after the server already answers.
//!
//! So `--admin-delay` delays listening on 7.10/8.1 and the admin on 6.13.

use crate::Version;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Startup {
    /// Connections are refused this long.
    pub listen_after: Duration,
    /// None: the admin exists before the listening line; Some(d): it appears d after it.
    pub admin_after_listen: Option<Duration>,
}

impl Startup {
    pub fn of(version: Version, listen_delay: Duration, admin_delay: Duration) -> Startup {
        if admin_delay.is_zero() {
            return Startup {
                listen_after: listen_delay,
                admin_after_listen: None,
            };
        }
        match version {
            Version::V6_13 => Startup {
                listen_after: listen_delay,
                admin_after_listen: Some(admin_delay),
            },
            Version::V7_10 | Version::V8_1 => Startup {
                listen_after: listen_delay + admin_delay,
                admin_after_listen: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meteor_3_releases_listen_only_after_initial_data() {
        let (l, a) = (Duration::from_millis(200), Duration::from_millis(500));
        assert_eq!(
            Startup::of(Version::V6_13, l, a),
            Startup {
                listen_after: l,
                admin_after_listen: Some(a)
            }
        );
        for v in [Version::V7_10, Version::V8_1] {
            assert_eq!(
                Startup::of(v, l, a),
                Startup {
                    listen_after: l + a,
                    admin_after_listen: None
                }
            );
        }
        assert_eq!(
            Startup::of(Version::V6_13, l, Duration::ZERO).admin_after_listen,
            None
        );
    }
}
