//! SASL between ensemble members (`quorum.auth.enableSasl`, `serverRequireSasl`,
//! `learnerRequireSasl`, the JAAS `QuorumServer`/`QuorumLearner` sections): an ensemble
//! whose members know the password forms and replicates; a member with a wrong
//! password never joins.

use ferrokeeper_tests::cluster::{ClusterOptions, FerrokeeperEnsemble};

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

    cluster.assert_replicates(0, 1, "/quorum-sasl");

    cluster.assert_kept_out(2, "refusing a peer whose quorum SASL failed");
}
