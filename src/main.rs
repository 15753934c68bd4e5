use std::process::ExitCode;

fn main() -> ExitCode {
    s3audit::app::main()
}
