fn main() {
    std::process::exit(rc_probe::cli::main_with(std::env::args_os()));
}
