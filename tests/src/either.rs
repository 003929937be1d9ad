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
    /// Three ferrokeeper members (clients get every member's address).
    FerrokeeperEnsemble(crate::cluster::FerrokeeperEnsemble),
    /// Three ZooKeeper 3.8 members.
    ZooKeeperEnsemble(crate::zk_ensemble::RealZooKeeperEnsemble),
    /// ferrokeeper started inside the test process.
    InProcess(crate::in_process::InProcessServer),
    /// Three ferrokeeper members inside the test process.
    InProcessEnsemble(crate::in_process::InProcessEnsemble),
}

/// The ensembles' tick: ZooKeeper's default, as the standalone servers', so the same
/// session timeouts are negotiated.
const ENSEMBLE_TICK_MS: u64 = 2000;

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

    /// Three ferrokeeper members with extended types, all serving.
    pub async fn ferrokeeper_ensemble() -> TestServer {
        let ensemble = tokio::task::spawn_blocking(|| {
            let mut options = crate::cluster::ClusterOptions::new(3);
            options.tick_ms = ENSEMBLE_TICK_MS as u32;
            for member in 0..3 {
                options.member_env.push((
                    member,
                    "SERVER_JVMFLAGS".into(),
                    "-Dzookeeper.extendedTypesEnabled=true".into(),
                ));
            }
            let ensemble = crate::cluster::FerrokeeperEnsemble::start(options);
            ensemble.wait_all_serving(Duration::from_secs(60));
            ensemble
        })
        .await
        .expect("start the ferrokeeper ensemble");
        TestServer::FerrokeeperEnsemble(ensemble)
    }

    /// ferrokeeper with extended types, started in this process.
    pub async fn in_process() -> TestServer {
        TestServer::InProcess(
            crate::in_process::InProcessServer::start("-Dzookeeper.extendedTypesEnabled=true")
                .await,
        )
    }

    /// Three ferrokeeper members with extended types, started in this process.
    pub async fn in_process_ensemble() -> TestServer {
        TestServer::InProcessEnsemble(
            crate::in_process::InProcessEnsemble::start(
                3,
                ENSEMBLE_TICK_MS as u32,
                "-Dzookeeper.extendedTypesEnabled=true",
            )
            .await,
        )
    }

    /// Three ZooKeeper 3.8 members with extended types (JVMs started off the async
    /// threads).
    pub async fn zookeeper_ensemble() -> TestServer {
        let ensemble = tokio::task::spawn_blocking(|| {
            crate::zk_ensemble::RealZooKeeperEnsemble::start(
                3,
                ENSEMBLE_TICK_MS,
                &[("-Dzookeeper.extendedTypesEnabled", "true")],
            )
        })
        .await
        .expect("start the ZooKeeper ensemble");
        TestServer::ZooKeeperEnsemble(ensemble)
    }

    /// Whether the server is ferrokeeper (one server or an ensemble).
    pub fn is_ferrokeeper(&self) -> bool {
        matches!(
            self,
            TestServer::Ferrokeeper(_)
                | TestServer::FerrokeeperEnsemble(_)
                | TestServer::InProcess(_)
                | TestServer::InProcessEnsemble(_)
        )
    }

    /// The server's client address; for an ensemble, its first member's.
    pub fn addr(&self) -> SocketAddr {
        use crate::ensemble::Ensemble;
        match self {
            TestServer::Ferrokeeper(s) => s.addr(),
            TestServer::ZooKeeper(s) => s.addr(),
            TestServer::FerrokeeperEnsemble(e) => e.client_addr(0),
            TestServer::ZooKeeperEnsemble(e) => e.client_addr(0),
            TestServer::InProcess(s) => s.addr(),
            TestServer::InProcessEnsemble(e) => e.addr(),
        }
    }

    /// What a client connects to: every member of an ensemble.
    pub fn connect_string(&self) -> String {
        use crate::ensemble::Ensemble;
        match self {
            TestServer::FerrokeeperEnsemble(e) => e.connect_string(),
            TestServer::ZooKeeperEnsemble(e) => e.connect_string(),
            TestServer::InProcessEnsemble(e) => e.connect_string(),
            _ => self.addr().to_string(),
        }
    }

    /// Ends the server: an in-process one stops cleanly before its data directory goes
    /// (its tasks would otherwise outlive the test's files); a process is killed on drop.
    pub async fn shutdown(self) {
        match self {
            TestServer::InProcess(s) => s.stop().await,
            TestServer::InProcessEnsemble(e) => e.stop().await,
            _ => {}
        }
    }

    /// Kills the server (as a crash) and starts it again on the same port and data
    /// (needs a multi-threaded runtime). Not for ensembles, whose failover the
    /// ensemble tests cover.
    pub fn restart(&mut self) {
        tokio::task::block_in_place(|| match self {
            TestServer::Ferrokeeper(s) => s.restart(),
            TestServer::ZooKeeper(s) => s.restart(),
            // A clean stop and start: an in-process server cannot be killed.
            TestServer::InProcess(s) => tokio::runtime::Handle::current().block_on(s.restart()),
            TestServer::FerrokeeperEnsemble(_)
            | TestServer::ZooKeeperEnsemble(_)
            | TestServer::InProcessEnsemble(_) => {
                panic!("restart is for a single server")
            }
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

/// Both of [`against_both_servers!`](crate::against_both_servers) and
/// [`against_both_ensembles!`](crate::against_both_ensembles) for one list of scenarios.
#[macro_export]
macro_rules! against_servers_and_ensembles {
    ($($scenario:ident),* $(,)?) => {
        $crate::against_both_servers!($($scenario),*);
        $crate::against_both_ensembles!($($scenario),*);
    };
}

/// As [`against_both_servers!`](crate::against_both_servers), on 3-member ensembles:
/// modules `against_ferrokeeper_ensemble` and `against_zookeeper_ensemble` (the
/// `ensembles` test group runs them one at a time).
#[macro_export]
macro_rules! against_both_ensembles {
    ($($scenario:ident),* $(,)?) => {
        mod against_ferrokeeper_ensemble {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let mut server = $crate::either::TestServer::ferrokeeper_ensemble().await;
                    super::$scenario(&mut server).await;
                }
            )*
        }

        mod against_zookeeper_ensemble {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let mut server = $crate::either::TestServer::zookeeper_ensemble().await;
                    super::$scenario(&mut server).await;
                }
            )*
        }
    };
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

/// The scenarios against ferrokeeper started inside the test process: modules
/// `against_in_process` (one server) and `against_in_process_ensemble` (three members),
/// each test on a fresh server. No process is spawned, so they take milliseconds where
/// the process suites take seconds.
#[macro_export]
macro_rules! against_in_process {
    ($($scenario:ident),* $(,)?) => {
        mod against_in_process {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let mut server = $crate::either::TestServer::in_process().await;
                    super::$scenario(&mut server).await;
                    server.shutdown().await;
                }
            )*
        }
    };
}

/// As [`against_in_process!`](crate::against_in_process), on three in-process members.
#[macro_export]
macro_rules! against_in_process_ensemble {
    ($($scenario:ident),* $(,)?) => {
        mod against_in_process_ensemble {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let mut server = $crate::either::TestServer::in_process_ensemble().await;
                    super::$scenario(&mut server).await;
                    server.shutdown().await;
                }
            )*
        }
    };
}
