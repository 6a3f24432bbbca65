fn main() {
    std::process::exit(mongo_rs_probe::cli::main_with(std::env::args_os()));
}
