//! Group membership: join a group and print the member set at every change.
//!
//! ```text
//! cargo run -p ferrokeeper-client --example group_membership -- 127.0.0.1:2181 [name]
//! ```

use ferrokeeper_client::recipes::{Group, Sessions};
use futures::StreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let servers = args.next().unwrap_or_else(|| "127.0.0.1:2181".to_owned());
    let name = args
        .next()
        .unwrap_or_else(|| format!("worker-{}", std::process::id()));

    let group = Group::new(Sessions::connect_string(&servers), "/examples/workers")?;
    let me = group.join(name.as_bytes(), Some("worker")).await?;
    println!("{name}: joined as {}", me.path());
    let mut members = group.members();
    loop {
        tokio::select! {
            set = members.next() => match set {
                Some(set) => {
                    let names: Vec<&str> = set.iter().map(|m| m.name()).collect();
                    println!("{name}: {} member(s): {}", set.len(), names.join(", "));
                }
                None => break,
            },
            lost = me.until_lost() => {
                println!("{name}: membership lost: {lost}");
                break;
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    me.cancel().await?;
    group.close().await;
    Ok(())
}
