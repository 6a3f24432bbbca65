fn main() {
    std::process::exit(net_probe::main_with(std::env::args_os()));
}
