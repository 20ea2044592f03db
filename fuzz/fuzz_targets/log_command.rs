//! Bodies the `DeliveryLog` objects receive, through `LogCommand::decode`: the
//! first byte picks the command's path, the rest is the form body. Nothing
//! may panic, and whatever decodes encodes to text that decodes the same.
#![no_main]

use hookgate::log::command::LogCommand;
use libfuzzer_sys::fuzz_target;

const PATHS: &[&str] = &[
    "/batch",
    "/dead-letter",
    "/take-letter",
    "/requeued",
    "/drop-letter",
    "/scan",
    "/lookup",
    "/stats",
    "/purge",
    "/meta",
    "/nope",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let path = PATHS[usize::from(pick) % PATHS.len()];
    let body = String::from_utf8_lossy(rest);
    if let Some(command) = LogCommand::decode(path, &body) {
        let (again_path, again_body) = command.encode();
        assert_eq!(again_path, path);
        assert_eq!(LogCommand::decode(again_path, &again_body), Some(command));
    }
});
