//! Holds the trybuild suite of `scoped-cancel` (see `tests/ui.rs` and
//! `README.md`); the library itself is empty.
