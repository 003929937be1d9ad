//! The one-suite-two-servers pattern of the client tests: a [`TestServer`] is a fresh
//! ferrokeeper or a fresh Apache ZooKeeper 3.8 (both with extended types, so TTL nodes
//! work), and [`against_both_servers!`](crate::against_both_servers) turns a list of
//! `async fn scenario(&mut TestServer)` into one `#[tokio::test]` per scenario and server.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use crate::Ferrokeeper;
use crate::zookeeper::RealZooKeeper;

/// The server under test.
pub enum TestServer {
    Ferrokeeper(Ferrokeeper),
    ZooKeeper(RealZooKeeper),
}

impl TestServer {
    pub fn ferrokeeper() -> TestServer {
        TestServer::Ferrokeeper(Ferrokeeper::start(&[
            "-Dzookeeper.extendedTypesEnabled=true",
        ]))
    }

    /// Starts the JVM off the async threads.
    pub async fn zookeeper() -> TestServer {
        let zk = tokio::task::spawn_blocking(|| {
            RealZooKeeper::start(&[], &[("zookeeper.extendedTypesEnabled", "true")])
        })
        .await
        .expect("start ZooKeeper");
        TestServer::ZooKeeper(zk)
    }

    pub fn addr(&self) -> SocketAddr {
        match self {
            TestServer::Ferrokeeper(s) => s.addr(),
            TestServer::ZooKeeper(s) => s.addr(),
        }
    }

    pub fn connect_string(&self) -> String {
        self.addr().to_string()
    }

    /// Kills the server (as a crash) and starts it again on the same port and data
    /// (needs a multi-threaded runtime).
    pub fn restart(&mut self) {
        tokio::task::block_in_place(|| match self {
            TestServer::Ferrokeeper(s) => s.restart(),
            TestServer::ZooKeeper(s) => s.restart(),
        });
    }
}

/// Awaits `fut`, failing the test with `what` if it takes longer than `limit`.
pub async fn bounded<T>(what: &str, limit: Duration, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit, fut).await {
        Ok(value) => value,
        Err(_) => panic!("{what} did not complete within {limit:?}"),
    }
}

/// One `#[tokio::test]` per scenario and server kind, each on a fresh server: modules
/// `against_ferrokeeper` and `against_zookeeper`. Each scenario is an
/// `async fn(&mut TestServer)` in the calling module.
#[macro_export]
macro_rules! against_both_servers {
    ($($scenario:ident),* $(,)?) => {
        mod against_ferrokeeper {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let mut server = $crate::either::TestServer::ferrokeeper();
                    super::$scenario(&mut server).await;
                }
            )*
        }

        mod against_zookeeper {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let mut server = $crate::either::TestServer::zookeeper().await;
                    super::$scenario(&mut server).await;
                }
            )*
        }
    };
}
