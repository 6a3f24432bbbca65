fn main() {
    std::process::exit(rc_bootstrap::cli::main());
}
