fn main() {
    std::process::exit(mongo_rs_probe::main_with(std::env::args_os()));
}
