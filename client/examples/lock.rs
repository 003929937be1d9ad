//! A distributed lock: increments a counter node under the lock.
//!
//! ```text
//! cargo run -p ferrokeeper-client --example lock -- 127.0.0.1:2181 [rounds]
//! ```
//!
//! Run several at once: the counter ends at the sum of their rounds.

use ferrokeeper_client::recipes::Lock;
use ferrokeeper_client::{Client, CreateMode, Error, open_acl_unsafe};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let servers = args.next().unwrap_or_else(|| "127.0.0.1:2181".to_owned());
    let rounds: u32 = args.next().map(|r| r.parse()).transpose()?.unwrap_or(10);

    let client = Client::connect(&servers).await?;
    for (path, data) in [("/examples", ""), ("/examples/counter", "0")] {
        match client
            .create(
                path,
                data.as_bytes(),
                &open_acl_unsafe(),
                CreateMode::Persistent,
            )
            .await
        {
            Ok(_) | Err(Error::NodeExists) => {}
            Err(e) => return Err(e.into()),
        }
    }

    let lock = Lock::new(&client, "/examples/locks/counter")?;
    for _ in 0..rounds {
        let guard = lock.lock().await?;
        let (data, _) = client.get_data("/examples/counter").await?;
        let n: u64 = std::str::from_utf8(&data)?.trim().parse().unwrap_or(0);
        client
            .set_data("/examples/counter", (n + 1).to_string().as_bytes(), None)
            .await?;
        if let Some(lost) = guard.lost() {
            eprintln!("lock lost during the update: {lost}");
        }
        guard.unlock().await?;
        println!("counter = {}", n + 1);
    }
    client.close().await?;
    Ok(())
}
