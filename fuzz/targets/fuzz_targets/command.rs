#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| patchbay_fuzz::commands(data));
