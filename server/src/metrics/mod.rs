//! ZooKeeper's server metrics, under ZooKeeper's names, recorded where the events happen
//! and read by `mntr`, the AdminServer's `monitor` and the Prometheus endpoint.
//!
//! One process-wide set, as ZooKeeper's `ServerMetrics`: the layers that record (the
//! durable log's fsyncs, snapshots, elections, connections) need no handle threaded
//! through them. Only metrics ferrokeeper can measure are here; the rest of ZooKeeper's
//! names are listed in `ZOOKEEPER_ONLY` with the reason each has no counterpart.

mod roles;
mod summary;

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

pub use roles::{leader_uptime, track_roles};
pub use summary::{ADVANCED_QUANTILES, BASIC_QUANTILES, MNTR_PERCENTILES, Summary, SummaryValues};

macro_rules! server_metrics {
    (
        counters { $($counter:ident),* $(,)? }
        summaries { $($summary:ident: $level:ident),* $(,)? }
    ) => {
        /// Counters and summaries named as ZooKeeper names them (the field name is the
        /// metric name).
        #[derive(Debug)]
        pub struct ServerMetrics {
            $(pub $counter: AtomicU64,)*
            $(pub $summary: Summary,)*
        }

        impl ServerMetrics {
            fn new() -> ServerMetrics {
                ServerMetrics {
                    $($counter: AtomicU64::new(0),)*
                    $($summary: Summary::$level(),)*
                }
            }

            /// Every counter with its name, in a stable order.
            pub fn counters(&self) -> Vec<(&'static str, u64)> {
                vec![$((stringify!($counter), self.$counter.load(Ordering::Relaxed)),)*]
            }

            /// Every summary with its name, in a stable order.
            pub fn summaries(&self) -> Vec<(&'static str, &Summary)> {
                vec![$((stringify!($summary), &self.$summary),)*]
            }

            /// `srst` and the AdminServer's `stat_reset`: ZooKeeper resets every metric.
            pub fn reset(&self) {
                $(self.$counter.store(0, Ordering::Relaxed);)*
                $(self.$summary.reset();)*
            }
        }
    };
}

server_metrics! {
    counters {
        // Connections accepted on the client ports.
        connection_request_count,
        // Connections refused by maxClientCnxns or maxCnxns.
        connection_rejected,
        // Connections that closed before a session was established or resumed (a bad
        // connect request, a TLS handshake or SASL failure).
        unsuccessful_handshake,
        // Request bytes read from clients, and reply/notification bytes queued to them.
        bytes_received_count,
        response_bytes,
        // Frames longer than jute.maxbuffer (the connection is closed).
        large_requests_rejected,
        // Sessions expired by the leader.
        stale_sessions_expired,
        // Times this server lost its leader or quorum and started looking for one.
        looking_count,
        // Writes this server submitted to the replicated log, and log entries it applied.
        proposal_count,
        commit_count,
        // Quorum SASL authentications of peers.
        ensemble_auth_success,
        ensemble_auth_fail,
        // Times connections stopped reading because globalOutstandingLimit was reached.
        request_throttle_wait_count,
        // The durable log refused further writes (a failed fsync).
        unrecoverable_error_count,
    }
    summaries {
        readlatency: advanced,
        updatelatency: advanced,
        // Raft log fsyncs (one per group-commit batch), ms.
        fsynctime: basic,
        // Log entries made durable by one fsync.
        sync_processor_batch_size: basic,
        // Writing a snapshot of the state, ms.
        snapshottime: basic,
        // From losing a leader (or starting) to following or leading one, ms.
        election_time: basic,
        // Start-up: loading the newest snapshot, ms; and opening the log, loading the
        // snapshot and starting Raft together.
        dbinittime: basic,
        startup_snap_load_time: basic,
        // Watchers triggered by one change, by the kind of event.
        node_created_watch_count: basic,
        node_deleted_watch_count: basic,
        node_changed_watch_count: basic,
        node_children_watch_count: basic,
    }
}

/// The newest snapshot this server wrote or started from: its zxid and when it was
/// written (the AdminServer's `last_snapshot`).
pub fn record_snapshot(zxid: i64, written: std::time::SystemTime) {
    let secs = written
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    *last_snapshot_slot()
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = Some((zxid, secs));
}

pub fn last_snapshot() -> Option<(i64, i64)> {
    *last_snapshot_slot()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

fn last_snapshot_slot() -> &'static std::sync::Mutex<Option<(i64, i64)>> {
    static SLOT: std::sync::Mutex<Option<(i64, i64)>> = std::sync::Mutex::new(None);
    &SLOT
}

/// fsyncs slower than ZooKeeper's `fsync.warningthresholdms` default (1 s): its
/// `fsync_threshold_exceed_count` (in `srvr`, not a metric).
pub static FSYNC_OVER_THRESHOLD: AtomicU64 = AtomicU64::new(0);

/// A follower's writes queued for, or on their way to, the leader (`ferrokeeper_forward_queue_depth`).
pub static FORWARD_QUEUE_DEPTH: AtomicU64 = AtomicU64::new(0);

/// The process's metrics.
pub fn global() -> &'static ServerMetrics {
    static METRICS: OnceLock<ServerMetrics> = OnceLock::new();
    METRICS.get_or_init(ServerMetrics::new)
}

/// Adds one to a counter of the process's metrics.
pub fn count(counter: impl FnOnce(&ServerMetrics) -> &AtomicU64) {
    counter(global()).fetch_add(1, Ordering::Relaxed);
}

/// Names ZooKeeper 3.8/3.9 export that ferrokeeper does not, grouped by why. The
/// metrics test checks this list against a real ZooKeeper's `monitor` output, so a
/// name is either served or accounted for here.
pub const ZOOKEEPER_ONLY: &[(&str, &[&str])] = &[
    (
        "stages of ZooKeeper's request-processor pipeline, which ferrokeeper does not have \
         (requests go through one dispatcher and the Raft log)",
        &[
            "prep_processor_request_queued",
            "prep_processor_queue_time_ms",
            "prep_processor_queue_size",
            "prep_process_time",
            "proposal_process_time",
            "close_session_prep_time",
            "outstanding_changes_queued",
            "outstanding_changes_removed",
            "sync_processor_request_queued",
            "sync_processor_queue_and_flush_time_ms",
            "sync_processor_queue_size",
            "sync_processor_queue_time_ms",
            "sync_processor_queue_flush_time_ms",
            "sync_process_time",
            "commit_process_time",
            "read_commitproc_time_ms",
            "write_commitproc_time_ms",
            "local_write_committed_time_ms",
            "server_write_committed_time_ms",
            "read_final_proc_time_ms",
            "write_final_proc_time_ms",
            "requests_in_session_queue",
            "pending_session_queue_size",
            "reads_after_write_in_session_queue",
            "reads_issued_from_session_queue",
            "session_queues_drained",
            "time_waiting_empty_pool_in_commit_processor_read_ms",
            "write_batch_time_in_commit_processor",
            "concurrent_request_processing_in_commit_processor",
            "read_commit_proc_req_queued",
            "write_commit_proc_req_queued",
            "commit_commit_proc_req_queued",
            "request_commit_queued",
            "read_commit_proc_issued",
            "write_commit_proc_issued",
            "requests_not_forwarded_to_commit_processor",
            "skip_learner_request_to_next_processor_count",
            "learner_request_processor_queue_size",
            "om_proposal_process_time_ms",
            "om_commit_process_time_ms",
            "request_throttle_queue_time_ms",
            "throttled_ops",
            "stale_requests",
            "stale_requests_dropped",
            "stale_replies",
        ],
    ),
    (
        "Zab's proposal/ack/commit messages and learner sync modes; Raft replicates \
         differently (the ferrokeeper_ metrics give its term, indexes and lag)",
        &[
            "propagation_latency",
            "proposal_latency",
            "proposal_ack_creation_latency",
            "commit_propagation_latency",
            "quorum_ack_latency",
            "learner_proposal_received_count",
            // Per learner (named after its id) on the leader: its Zab handler's queue.
            "learner_handler_qp_size",
            "learner_handler_qp_time_ms",
            "learner_commit_received_count",
            "follower_sync_time",
            "observer_sync_time",
            "diff_count",
            "snap_count",
            "inflight_diff_count",
            "inflight_snap_count",
            "quit_leading_due_to_disloyal_voter",
            "unavailable_time",
            "leader_unavailable_time",
            "digest_mismatches_count",
            "ensemble_auth_skip",
            // openraft replays the log inside its start-up; dbinittime covers it.
            "startup_txns_load_time",
            "startup_txns_loaded",
        ],
    ),
    (
        "JVM, Netty and ZooKeeper-internal caches and features ferrokeeper does not have",
        &[
            "jvm_pause_time_ms",
            "netty_queued_buffer_capacity",
            "response_packet_cache_hits",
            "response_packet_cache_misses",
            "response_packet_get_children_cache_hits",
            "response_packet_get_children_cache_misses",
            "add_dead_watcher_stall_time",
            "dead_watchers_queued",
            "dead_watchers_cleared",
            "dead_watchers_cleaner_latency",
            "connection_token_deficit",
            "connection_drop_count",
            "connection_revalidate_count",
            "revalidate_count",
            "sessionless_connections_expired",
            "cnxn_closed_without_zk_server_running",
            "socket_closing_time",
            "outstanding_tls_handshake",
            "tls_handshake_exceeded",
            "insecure_admin_count",
            "watch_bytes",
            // Summaries per top-level path, named after it (e.g. avg_app_read_per_namespace).
            "read_per_namespace",
            "write_per_namespace",
            "last_proposal_size",
            "max_proposal_size",
            "min_proposal_size",
        ],
    ),
];
