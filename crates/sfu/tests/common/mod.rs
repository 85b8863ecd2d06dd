//! Shared by the SFU's integration tests: a server on a free loopback port, plus the workspace's test kit
//! (tokens, the Node test peers).
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)]

use colloque_sfu::config::ServerConfig;
use colloque_sfu::SfuServer;
pub use colloque_testkit::{node_scenario, token, Grants, API_KEY, API_SECRET};

/// A server on 127.0.0.1 with a free port.
pub async fn server() -> SfuServer {
    SfuServer::start(ServerConfig::from_args("127.0.0.1:0", &colloque_testkit::keys()).unwrap())
        .await
        .unwrap()
}
