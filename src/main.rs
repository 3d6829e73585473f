fn main() {
    std::process::exit(push_agent::cli::main(std::env::args_os()));
}
