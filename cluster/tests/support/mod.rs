//! Shared test support: a private Redis server and node processes.
#![allow(dead_code)]

pub mod node;
pub mod server;
