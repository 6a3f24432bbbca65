fn main() {
    std::process::exit(rc_bootstrap::cli::main_with(std::env::args_os()));
}
