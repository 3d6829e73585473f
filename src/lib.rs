//! push-agent: the device side of the PUSH protocols for attendance and access-control terminals.

pub mod access;
pub mod app;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod controller;
pub mod demo;
pub mod door;
pub mod engine;
pub mod hal;
pub mod logging;
pub mod protocol;
pub mod server;
pub mod sim;
pub mod status;
pub mod store;
pub mod terminal;
pub mod transport;
