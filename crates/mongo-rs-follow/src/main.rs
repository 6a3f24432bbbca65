fn main() {
    std::process::exit(mongo_rs_follow::main_with(std::env::args_os()));
}
