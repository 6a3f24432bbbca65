fn main() {
    std::process::exit(rc_probe::cli::main());
}
