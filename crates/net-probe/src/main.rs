fn main() {
    std::process::exit(net_probe::cli::main_with(std::env::args_os()));
}
