//! `npm run check`'s native half: reads what scripts/check.mjs gathered from
//! wrangler.toml and .dev.vars (JSON on stdin), runs the Worker's own
//! settings check on it (preflight.rs) and prints the report. Exits
//! 0 when the gate would answer, 1 when it would answer `misconfigured`, 2
//! when the input is not what check.mjs sends.

mod preflight;

use std::io::Read;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut input = String::new();
    if std::io::stdin().read_to_string(&mut input).is_err() {
        eprintln!("npm run check: the input is not UTF-8 text");
        return ExitCode::from(2);
    }
    match preflight::run(&input) {
        Ok((report, ready)) => {
            print!("{report}");
            if ready {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("npm run check: {error}");
            ExitCode::from(2)
        }
    }
}
