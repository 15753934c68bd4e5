//! Fuzzes the policy parser and, for inputs that parse, the analyser: neither may panic,
//! loop or blow up on any input, and a parse error is always one line.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code, unused_imports)]
#[path = "../../src/policy/mod.rs"]
mod policy;

use policy::checks::{DefaultSse, PolicyFacts, RULE_IDS, evaluate};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match policy::parse_policy(text) {
        Err(e) => assert!(!e.to_string().contains('\n'), "multi-line error: {e}"),
        Ok(parsed) => {
            let mut facts = PolicyFacts::new("b");
            facts.default_sse = DefaultSse::SseKms;
            facts.default_key = vec!["arn:aws:kms:us-east-1:111122223333:key/k1".to_string()];
            for rule in RULE_IDS {
                let _ = evaluate(rule, Some(&parsed), &facts);
            }
        }
    }
});
