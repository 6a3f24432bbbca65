//! mongo-sim: test-only mongod emulator. Logic lives in the library (cli.rs, server/).

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match mongo_sim::cli::parse_args(&args) {
        Ok(Some(opts)) => std::process::exit(mongo_sim::server::run(opts)),
        Ok(None) => print!("{}", mongo_sim::cli::help()),
        Err(e) => {
            eprintln!("mongo-sim: {e}");
            std::process::exit(mongo_sim::cli::EXIT_USAGE);
        }
    }
}
