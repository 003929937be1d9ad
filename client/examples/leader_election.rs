//! Curator-style leader election with `LeaderLatch`.
//!
//! ```text
//! cargo run -p ferrokeeper-client --example leader_election -- 127.0.0.1:2181 [id]
//! ```
//!
//! Run it in several terminals: one leads, the others wait; stop the leader (Ctrl-C)
//! and another takes over.

use ferrokeeper_client::Client;
use ferrokeeper_client::recipes::LeaderLatch;
use futures::StreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let servers = args.next().unwrap_or_else(|| "127.0.0.1:2181".to_owned());
    let id = args
        .next()
        .unwrap_or_else(|| format!("pid-{}", std::process::id()));

    let client = Client::connect(&servers).await?;
    let latch = LeaderLatch::start(&client, "/examples/leader", id.as_bytes()).await?;
    println!("{id}: joined as {}", latch.node_path());

    let mut leadership = latch.leadership();
    loop {
        tokio::select! {
            change = leadership.next() => match change {
                Some(true) => println!("{id}: I am the leader"),
                Some(false) => {
                    let leader = latch.leader().await.ok().flatten();
                    let name = leader.map(|p| String::from_utf8_lossy(&p.id).into_owned());
                    println!("{id}: following (leader: {})", name.as_deref().unwrap_or("none"));
                }
                None => {
                    println!("{id}: the latch is over: {:?}", latch.lost());
                    break;
                }
            },
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    latch.close().await?;
    client.close().await?;
    Ok(())
}
