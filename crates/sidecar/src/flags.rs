//! The flags every binary shares, defined once and flattened into each binary's clap `Args`
//! (`#[command(flatten)]`). A macro, because each binary names its environment variables with
//! its own prefix (`RC_PROBE_TIMEOUT`, `MONGO_RS_INIT_JSON`) and has its own default deadline.
//!
//! * [`common_flags!`](crate::common_flags) — `--timeout DUR` and `--json`, with
//!   `<PREFIX>_TIMEOUT` and `<PREFIX>_JSON`;
//! * [`secret_flags!`](crate::secret_flags) — a secret as `--NAME VALUE` (env `VAR`) or
//!   `--NAME-file FILE` (env `VAR_FILE`), resolved by [`crate::secret::resolve`]. A value given on
//!   the command line is accepted with one warning ([`crate::cli`]): argv is visible in `ps`.
//!
//! The binaries' crates depend on clap themselves (the derive expands to `clap::` paths).

/// Defines `pub struct $name { timeout, json }` for `#[command(flatten)]`:
/// `--timeout` (env `<PREFIX>_TIMEOUT`, default `$default`, [`crate::duration`] grammar) and
/// `--json` (env `<PREFIX>_JSON`, a boolean: 1/0, true/false, yes/no, on/off).
/// `$name for $args` also implements [`crate::cli::CommonArgs`] for `$args`, whose field
/// `common` holds the flattened struct.
#[macro_export]
macro_rules! common_flags {
    ($name:ident for $args:ident, $($rest:tt)*) => {
        $crate::common_flags!($name, $($rest)*);

        impl $crate::cli::CommonArgs for $args {
            fn common(&self) -> $crate::cli::Common {
                self.common.get()
            }
        }
    };
    ($name:ident, prefix = $prefix:literal, timeout = $default:literal,
     timeout_help = $timeout_help:literal, json_help = $json_help:literal $(,)?) => {
        #[derive(::clap::Args, Debug, Clone)]
        pub struct $name {
            #[arg(
                                        long,
                                        help = $timeout_help,
                                        env = concat!($prefix, "_TIMEOUT"),
                                        default_value = $default,
                                        value_parser = $crate::duration::parse_timeout
                                    )]
            pub timeout: ::std::time::Duration,
            #[arg(
                                        long,
                                        help = $json_help,
                                        env = concat!($prefix, "_JSON"),
                                        value_parser = ::clap::builder::BoolishValueParser::new()
                                    )]
            pub json: bool,
        }

        impl $name {
            pub fn get(&self) -> $crate::cli::Common {
                $crate::cli::Common {
                    timeout: self.timeout,
                    json: self.json,
                }
            }
        }
    };
}

/// Defines `pub struct $name { $value, $file }` for `#[command(flatten)]`: the secret as
/// `--$long VALUE` (env `$env`, never shown by `--help`) or `--$long-file FILE` (env
/// `$env_FILE`), and `resolve()` into an optional [`crate::Secret`] (both given: exit 2).
#[macro_export]
macro_rules! secret_flags {
    ($name:ident { $value:ident, $file:ident }, long = $long:literal, env = $env:literal,
     help = $help:literal, file_help = $file_help:literal $(,)?) => {
        #[derive(::clap::Args, Debug, Clone)]
        pub struct $name {
            #[arg(
                long = $long,
                env = $env,
                hide_env_values = true,
                help = concat!($help, " (prefer --", $long, "-file: a value on the command line is visible in ps and draws a warning)")
            )]
            pub $value: Option<String>,
            #[arg(long = concat!($long, "-file"), env = concat!($env, "_FILE"), help = $file_help)]
            pub $file: Option<::std::path::PathBuf>,
        }

        impl $name {
            /// What messages call the pair of flags and variables.
            pub const WHAT: &'static str =
                concat!("--", $long, " / --", $long, "-file (", $env, "[_FILE])");

            pub fn resolve(&self) -> Result<Option<$crate::Secret>, $crate::Failure> {
                $crate::secret::resolve(self.$value.clone(), self.$file.as_deref(), Self::WHAT)
            }
        }
    };
}
