//! Command line of net-probe: the clap `Args` (every flag has an environment twin, flags win),
//! its long help, and the frame that runs [`crate::run`] once.

use crate::{parse_link, run, Link, PROG};
use clap::Parser;
use std::ffi::OsString;

const LONG_ABOUT: &str = "\
Network diagnosis of the stack: for every link FROM>TO:PORT (FROM needs to reach TO on PORT),
resolve TO by name and open a TCP connection to TO:PORT, from where net-probe runs (attach it to
the networks FROM uses; FROM only names the link). Prints one line per link:

  ok     rocketchat>mongo:27017  (10.0.1.3:27017, 1ms)
  BROKEN rocketchat>mongo:27017  mongo does not resolve (not on a network net-probe shares?)

and exits 0 only when every link works. All links are checked in parallel; the whole run ends by
--timeout (name resolution included).

Examples:
  net-probe --link rocketchat>mongo:27017 --link hubot>rocketchat:3000
  NET_PROBE_LINKS='mongo-rs-init>mongo:27017,rc-bootstrap>rocketchat:3000' net-probe --json

Exit codes:
  0  every link works
  1  at least one link is broken (each is named), or the deadline passed
  2  usage: no link, a link not shaped FROM>TO:PORT, bad duration

Every flag has its environment variable (shown below); flags win, an empty variable is unset.";

sidecar::common_flags! {
    Shared for Args, prefix = "NET_PROBE", timeout = "5s",
    timeout_help = "Give up after this long (the whole run, all links)",
    json_help = "Print one JSON object (ok, reason, broken, links) on stdout instead of the matrix"
}

#[derive(Parser, Debug)]
#[command(name = PROG, version, about = "Resolve and TCP-connect every link the stack needs; exit 0 only when all work.", long_about = LONG_ABOUT)]
pub struct Args {
    /// A link FROM>TO:PORT (repeat, or a comma list in NET_PROBE_LINKS).
    #[arg(long = "link", env = "NET_PROBE_LINKS", value_delimiter = ',', value_parser = parse_link, required = true)]
    pub links: Vec<Link>,

    #[command(flatten)]
    pub common: Shared,
}

/// Parses `argv` and runs; returns the exit code.
pub fn main_with(argv: impl IntoIterator<Item = OsString>) -> i32 {
    sidecar::cli::main(PROG, true, argv, |args: Args, deadline, _| {
        run(&args, deadline)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Args::command().debug_assert();
    }
}
