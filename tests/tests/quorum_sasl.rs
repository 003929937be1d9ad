//! SASL between ensemble members (`quorum.auth.enableSasl`, `serverRequireSasl`,
//! `learnerRequireSasl`, the JAAS `QuorumServer`/`QuorumLearner` sections): an ensemble
//! whose members know the password forms and replicates; a member with a wrong
//! password never joins.

use std::time::Duration;

use ferrokeeper_tests::cluster::{ClusterOptions, FerrokeeperEnsemble};
use ferrokeeper_tests::ensemble::Ensemble as _;
use ferrokeeper_tests::raw::RawClient;

fn jaas(learner_password: &str) -> String {
    format!(
        "QuorumServer {{\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n  \
         user_peer=\"s3cret\";\n}};\n\
         QuorumLearner {{\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n  \
         username=\"peer\"\n  password=\"{learner_password}\";\n}};\n"
    )
}

#[test]
fn members_that_know_the_password_form_an_ensemble_others_never_join() {
    let dir = tempfile::tempdir().expect("temp dir");
    let good = dir.path().join("jaas.conf");
    let bad = dir.path().join("jaas-wrong.conf");
    std::fs::write(&good, jaas("s3cret")).expect("jaas");
    std::fs::write(&bad, jaas("guess")).expect("jaas");
    let mut options = ClusterOptions::new(3);
    options.extra = [
        ("quorum.auth.enableSasl", "true"),
        ("quorum.auth.learnerRequireSasl", "true"),
        ("quorum.auth.serverRequireSasl", "true"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let flags =
        |file: &std::path::Path| format!("-Djava.security.auth.login.config={}", file.display());
    options.member_env = (0..3)
        .map(|m| {
            let file = if m == 2 { &bad } else { &good };
            (m, "SERVER_JVMFLAGS".to_owned(), flags(file))
        })
        .collect();
    let cluster = FerrokeeperEnsemble::start_expecting(options, Some(&[0, 1]));

    let (mut writer, _) =
        RawClient::connect(cluster.client_addr(0), 30_000, None).expect("connect");
    let created = writer
        .call(ferrokeeper_protocol::Request::Create(
            ferrokeeper_protocol::CreateRequest {
                path: "/quorum-sasl".into(),
                data: Some(bytes::Bytes::from_static(b"x")),
                acl: vec![ferrokeeper_protocol::Acl {
                    perms: ferrokeeper_protocol::perms::ALL,
                    id: ferrokeeper_protocol::Id {
                        scheme: "world".into(),
                        id: "anyone".into(),
                    },
                }],
                flags: 0,
            },
        ))
        .expect("create");
    assert_eq!(created.last().map(|f| f.header.err), Some(0), "{created:?}");
    let (mut reader, _) =
        RawClient::connect(cluster.client_addr(1), 30_000, None).expect("connect");
    reader
        .call(ferrokeeper_protocol::Request::Sync(
            ferrokeeper_protocol::SyncRequest {
                path: "/quorum-sasl".into(),
            },
        ))
        .expect("sync");
    let got = reader
        .call(ferrokeeper_protocol::Request::GetData(
            ferrokeeper_protocol::GetDataRequest {
                path: "/quorum-sasl".into(),
                watch: false,
            },
        ))
        .expect("get");
    assert_eq!(got.last().map(|f| f.header.err), Some(0), "{got:?}");

    let refused = "refusing a peer whose quorum SASL failed";
    assert!(
        cluster
            .log(0)
            .wait_for_more(refused, 0, Duration::from_secs(30))
            || cluster
                .log(1)
                .wait_for_more(refused, 0, Duration::from_secs(30)),
        "no member refused the wrong password"
    );
    assert_ne!(cluster.mode(2).as_deref(), Some("follower"));
    assert_ne!(cluster.mode(2).as_deref(), Some("leader"));
}
