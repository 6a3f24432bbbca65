fn main() {
    std::process::exit(mongo_rs_init::cli::main_with(std::env::args_os()));
}
