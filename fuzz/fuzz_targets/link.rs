//! Link parsing never panics, and what parses prints back to itself.
#![no_main]
use libfuzzer_sys::fuzz_target;
use meganet::format::Link;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(link) = text.parse::<Link>() {
        assert_eq!(link.to_string().parse::<Link>().unwrap(), link);
    }
});
