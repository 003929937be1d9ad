//! Mesos-style leader election: join a group as `json.info_NNNNNNNNNN` and follow the
//! leader (the lowest sequence) with a `LeaderDetector`, as Mesos masters do.
//!
//! ```text
//! cargo run -p ferrokeeper-client --example mesos_election -- 127.0.0.1:2181 [name]
//! ```
//!
//! The group keeps a session of its own and starts a new one after an expiry; this
//! program then joins again, as a Mesos master re-contends.

use ferrokeeper_client::Client;
use ferrokeeper_client::recipes::{Group, LeaderDetector, Sessions};
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let servers = args.next().unwrap_or_else(|| "127.0.0.1:2181".to_owned());
    let name = args
        .next()
        .unwrap_or_else(|| format!("master-{}", std::process::id()));
    let data = format!(r#"{{"hostname":"{name}"}}"#);

    let builder = Client::builder().session_timeout(Duration::from_secs(10));
    let group = Group::new(Sessions::new(builder, &servers), "/examples/mesos")?;
    let mut detector = LeaderDetector::new(&group);
    let mut membership = group.join(data.as_bytes(), Some("json.info")).await?;
    println!("{name}: joined as {}", membership.path());

    loop {
        tokio::select! {
            leader = detector.next() => match leader {
                Some(Some(leader)) if leader.member == *membership.member() => {
                    println!("{name}: elected as the leading master");
                }
                Some(Some(leader)) => println!(
                    "{name}: leader is {} ({})",
                    leader.member.name(),
                    String::from_utf8_lossy(&leader.data)
                ),
                Some(None) => println!("{name}: no leader"),
                None => break,
            },
            lost = membership.until_lost() => {
                println!("{name}: lost candidacy ({lost}); contending again");
                membership = group.join(data.as_bytes(), Some("json.info")).await?;
                println!("{name}: joined as {}", membership.path());
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    membership.cancel().await?;
    group.close().await;
    Ok(())
}
