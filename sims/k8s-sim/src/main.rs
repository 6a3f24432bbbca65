fn main() {
    std::process::exit(k8s_sim::main_with(std::env::args().skip(1).collect()));
}
