fn main() {
    std::process::exit(mongo_rs_follow::cli::main_with(std::env::args_os()));
}
