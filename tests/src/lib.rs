//! Integration tests live in `tests/`; see `tests/netns.rs`.
