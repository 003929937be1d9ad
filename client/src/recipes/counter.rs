//! A distributed counter, in the format of Curator's `DistributedAtomicLong`: the value
//! is the node's data as an 8-byte big-endian signed integer (an absent node or empty
//! data reads as 0), so Curator applications and this recipe can share one. Changes are
//! optimistic: read, then set with the version read, again on a conflict.

use super::util::{check_dir, create_parents};
use crate::{Client, CreateMode, Error, Result, open_acl_unsafe};

/// Attempts of one change before it gives up with `BadVersion` (every failed attempt
/// means another client changed the counter in between: the system makes progress).
const ATTEMPTS: usize = 1000;

/// A shared 64-bit counter at one znode.
#[derive(Debug, Clone)]
pub struct Counter {
    client: Client,
    path: String,
}

impl Counter {
    /// The counter at `path` (created, with its parents, on the first change).
    pub fn new(client: &Client, path: &str) -> Result<Counter> {
        let path = check_dir(path)?;
        if path == "/" {
            return Err(Error::BadArguments);
        }
        Ok(Counter {
            client: client.clone(),
            path,
        })
    }

    /// The current value (0 while the node does not exist).
    pub async fn get(&self) -> Result<i64> {
        match self.client.get_data(&self.path).await {
            Ok((data, _)) => decode(&data),
            Err(Error::NoNode) => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// Adds `delta` atomically; returns the new value. Java's long arithmetic: it wraps.
    pub async fn add(&self, delta: i64) -> Result<i64> {
        self.update(|v| v.wrapping_add(delta)).await
    }

    /// Sets the value; returns it.
    pub async fn set(&self, value: i64) -> Result<i64> {
        self.update(|_| value).await
    }

    /// Applies `f` to the current value atomically (compare-and-set on the node's
    /// version); returns the new value.
    pub async fn update(&self, f: impl Fn(i64) -> i64) -> Result<i64> {
        for _ in 0..ATTEMPTS {
            match self.client.get_data(&self.path).await {
                Ok((data, stat)) => {
                    let next = f(decode(&data)?);
                    match self
                        .client
                        .set_data(&self.path, &next.to_be_bytes(), Some(stat.version))
                        .await
                    {
                        Ok(_) => return Ok(next),
                        Err(Error::BadVersion | Error::NoNode) => continue,
                        Err(e) => return Err(e),
                    }
                }
                Err(Error::NoNode) => {
                    let next = f(0);
                    if let Some((parent, _)) = self.path.rsplit_once('/')
                        && !parent.is_empty()
                    {
                        create_parents(
                            &self.client,
                            parent,
                            &open_acl_unsafe(),
                            CreateMode::Persistent,
                        )
                        .await?;
                    }
                    match self
                        .client
                        .create(
                            &self.path,
                            &next.to_be_bytes(),
                            &open_acl_unsafe(),
                            CreateMode::Persistent,
                        )
                        .await
                    {
                        Ok(_) => return Ok(next),
                        Err(Error::NodeExists) => continue,
                        Err(e) => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::BadVersion)
    }
}

/// Curator's encoding: 8 bytes big-endian; empty data is 0. Anything else is not a
/// counter.
fn decode(data: &[u8]) -> Result<i64> {
    if data.is_empty() {
        return Ok(0);
    }
    <[u8; 8]>::try_from(data)
        .map(i64::from_be_bytes)
        .map_err(|_| Error::MarshallingError)
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn curators_encoding() {
        assert_eq!(decode(&[]).ok(), Some(0));
        assert_eq!(decode(&42i64.to_be_bytes()).ok(), Some(42));
        assert_eq!(decode(&(-1i64).to_be_bytes()).ok(), Some(-1));
        assert!(decode(b"42").is_err());
    }
}
