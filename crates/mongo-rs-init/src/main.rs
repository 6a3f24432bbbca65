fn main() {
    std::process::exit(mongo_rs_init::main_with(std::env::args_os()));
}
