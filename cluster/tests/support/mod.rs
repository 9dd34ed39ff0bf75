//! Shared test support: private Redis servers and clusters, node processes.
#![allow(dead_code)]

pub mod cluster;
pub mod node;
pub mod server;
