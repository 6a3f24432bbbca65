//! rc-sim: test-only Rocket.Chat emulator; the logic lives in the library (lib.rs).
fn main() {
    std::process::exit(rc_sim::main_with_args(std::env::args().skip(1).collect()));
}
