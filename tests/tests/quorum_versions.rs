//! Version negotiation on the quorum port: members agree on the highest protocol version
//! both speak, so a newer release joins older ones during a rolling upgrade; a member
//! with no version in common is kept out, and both sides say why in their logs.
//! `FERROKEEPER_TEST_PEER_VERSIONS` makes a member claim the versions of another
//! release.

use std::time::Duration;

use ferrokeeper_tests::cluster::{ClusterOptions, FerrokeeperEnsemble};
use ferrokeeper_tests::ensemble::Ensemble;

const VERSIONS: &str = "FERROKEEPER_TEST_PEER_VERSIONS";

#[test]
fn a_newer_member_joins_older_ones_and_one_with_no_common_version_is_kept_out() {
    let mut options = ClusterOptions::new(3);
    options.member_env = vec![(2, VERSIONS.to_owned(), "3-3".to_owned())];
    let mut cluster = FerrokeeperEnsemble::start_expecting(options, Some(&[0, 1]));
    cluster.assert_replicates(0, 1, "/before-upgrade");
    cluster.assert_kept_out(2, "with none in common; upgrade through a release");
    assert!(
        cluster.log(2).wait_for_more(
            "it speaks quorum protocol versions 2, this server 3, with none in common",
            0,
            Duration::from_secs(30),
        ),
        "the kept-out member does not say why"
    );

    // The same member as a release that speaks versions 2 and 3: it agrees on 2 with
    // the others, joins and catches up.
    cluster.kill9(2);
    cluster.set_env(2, VERSIONS, "2-3");
    let from = cluster.log(2).count("protocol_version=2");
    cluster.restart(2);
    assert!(
        cluster
            .log(2)
            .wait_for_more("protocol_version=2", from, Duration::from_secs(30)),
        "no connection agreed on version 2"
    );
    cluster.assert_replicates(2, 0, "/after-upgrade");
    cluster.assert_replicates(0, 2, "/before-upgrade-read");
}

#[test]
fn an_unusable_version_override_stops_start_up() {
    let mut options = ClusterOptions::new(3);
    options.member_env = vec![(2, VERSIONS.to_owned(), "three".to_owned())];
    let mut cluster = FerrokeeperEnsemble::start_expecting(options, Some(&[0, 1]));
    assert!(
        cluster.log(2).wait_for_more(
            "FERROKEEPER_TEST_PEER_VERSIONS=three: not a range of versions",
            0,
            Duration::from_secs(30),
        ),
        "the bad value is not named"
    );
    let status = cluster.wait_exit(2, Duration::from_secs(30));
    assert!(!status.success(), "{status:?}");
}
