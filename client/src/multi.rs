//! multi (atomic writes) and multiRead (independent reads in one round trip).

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;

use ferrokeeper_protocol::{
    Acl, CheckVersionRequest, CreateMode, CreateRequest, CreateTtlRequest, DeleteRequest,
    GetChildrenRequest, GetDataRequest, MultiOp, MultiRequest, MultiResult, Request, Response,
    SetDataRequest, Stat,
};

use crate::chroot::Chroot;
use crate::client::Client;
use crate::error::{Error, Result};

/// ZooKeeper's largest TTL (`EphemeralType.MAX_VALUE`).
const MAX_TTL_MS: u128 = 0xFF_FFFF_FFFF;

/// The result of one op of a committed multi.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpResult {
    /// The created path (sequence suffix included, chroot removed), and its Stat when
    /// the server sent one: ZooKeeper 3.8 answers a plain create inside a multi with
    /// the path only (`None`), a container or TTL create with the Stat too.
    Create {
        path: String,
        stat: Option<Stat>,
    },
    Delete,
    SetData {
        stat: Stat,
    },
    Check,
}

/// Why a multi did not commit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MultiError {
    /// Op `index` failed with `error`, so nothing was applied. `results` has one entry
    /// per op, as the server reported it: `Ok(())` for ops before the failing one
    /// (they would have succeeded), the failing op's error, and
    /// [`Error::RuntimeInconsistency`] for ops after it (never tried).
    #[error("multi op {index} failed: {error}")]
    OpFailed {
        index: usize,
        error: Error,
        results: Vec<Result<(), Error>>,
    },
    /// The multi as a whole failed (connection loss, a bad path, ...).
    #[error(transparent)]
    Request(#[from] Error),
}

impl MultiError {
    /// The error that stopped the multi.
    pub fn error(&self) -> &Error {
        match self {
            MultiError::OpFailed { error, .. } | MultiError::Request(error) => error,
        }
    }
}

impl From<MultiError> for Error {
    fn from(e: MultiError) -> Error {
        match e {
            MultiError::OpFailed { error, .. } | MultiError::Request(error) => error,
        }
    }
}

/// Ops to apply atomically: all of them or none. From [`Client::multi`].
///
/// ```no_run
/// # async fn demo(client: ferrokeeper_client::Client) -> ferrokeeper_client::Result<()> {
/// use ferrokeeper_client::{CreateMode, MultiError, OpResult, open_acl_unsafe};
///
/// let acl = open_acl_unsafe();
/// let results = client
///     .multi()
///     .check("/config", 3)
///     .set_data("/config", b"v4", Some(3))
///     .create("/config/history-", b"v4", &acl, CreateMode::PersistentSequential)
///     .commit()
///     .await;
/// match results {
///     Ok(results) => assert!(matches!(results[2], OpResult::Create { .. })),
///     Err(MultiError::OpFailed { index, error, .. }) => tracing::warn!(index, %error, "not applied"),
///     Err(MultiError::Request(e)) => return Err(e),
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a multi does nothing until committed"]
pub struct MultiWriter {
    list: OpList,
}

/// The ops of a multi or multiRead being built, with their paths already chrooted.
#[derive(Debug, Clone)]
struct OpList {
    client: Client,
    ops: Vec<MultiOp>,
    /// The first op that could not be built; sending reports it.
    error: Option<Error>,
}

impl OpList {
    fn new(client: Client) -> OpList {
        OpList {
            client,
            ops: Vec::new(),
            error: None,
        }
    }

    fn push(&mut self, path: &str, make: impl FnOnce(String) -> MultiOp) {
        match self.client.chroot_ref().checked(path) {
            Ok(server_path) => self.ops.push(make(server_path)),
            Err(e) => {
                self.error.get_or_insert(e);
            }
        }
    }
}

impl MultiWriter {
    pub(crate) fn new(client: Client) -> MultiWriter {
        MultiWriter {
            list: OpList::new(client),
        }
    }

    fn push(&mut self, path: &str, make: impl FnOnce(String) -> MultiOp) -> &mut Self {
        self.list.push(path, make);
        self
    }

    fn refuse(&mut self, err: Error) -> &mut Self {
        self.list.error.get_or_insert(err);
        self
    }

    /// Creates `path` (create, as ZooKeeper's Java client sends it in a multi, or
    /// createContainer for [`CreateMode::Container`]). A TTL mode is refused: use
    /// [`MultiWriter::create_ttl`].
    pub fn create(&mut self, path: &str, data: &[u8], acl: &[Acl], mode: CreateMode) -> &mut Self {
        if mode.is_ttl() {
            return self.refuse(Error::BadArguments);
        }
        let data = Bytes::copy_from_slice(data);
        let acl = acl.to_vec();
        self.push(path, |path| {
            let request = CreateRequest {
                path,
                data: Some(data),
                acl,
                flags: mode.code(),
            };
            if mode.is_container() {
                MultiOp::CreateContainer(request)
            } else {
                MultiOp::Create(request)
            }
        })
    }

    /// Creates `path` with a TTL mode (createTTL); see [`Client::create_ttl`].
    pub fn create_ttl(
        &mut self,
        path: &str,
        data: &[u8],
        acl: &[Acl],
        mode: CreateMode,
        ttl: Duration,
    ) -> &mut Self {
        let ttl_ms = ttl.as_millis();
        if !mode.is_ttl() || ttl_ms == 0 || ttl_ms > MAX_TTL_MS {
            return self.refuse(Error::BadArguments);
        }
        let data = Bytes::copy_from_slice(data);
        let acl = acl.to_vec();
        self.push(path, |path| {
            MultiOp::CreateTtl(CreateTtlRequest {
                path,
                data: Some(data),
                acl,
                flags: mode.code(),
                ttl: i64::try_from(ttl_ms).unwrap_or(i64::MAX),
            })
        })
    }

    /// Deletes `path` if its version is `version` (`None`: any).
    pub fn delete(&mut self, path: &str, version: Option<i32>) -> &mut Self {
        self.push(path, |path| {
            MultiOp::Delete(DeleteRequest {
                path,
                version: version.unwrap_or(-1),
            })
        })
    }

    /// Sets the data of `path` if its version is `version` (`None`: any).
    pub fn set_data(&mut self, path: &str, data: &[u8], version: Option<i32>) -> &mut Self {
        let data = Bytes::copy_from_slice(data);
        self.push(path, |path| {
            MultiOp::SetData(SetDataRequest {
                path,
                data: Some(data),
                version: version.unwrap_or(-1),
            })
        })
    }

    /// Fails the multi unless `path` exists with version `version`.
    pub fn check(&mut self, path: &str, version: i32) -> &mut Self {
        self.push(path, |path| {
            MultiOp::Check(CheckVersionRequest { path, version })
        })
    }

    pub fn len(&self) -> usize {
        self.list.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.ops.is_empty()
    }

    /// Sends the multi (queued now, like every operation). On success, one
    /// [`OpResult`] per op, in order.
    pub fn commit(&self) -> impl Future<Output = Result<Vec<OpResult>, MultiError>> + Send + use<> {
        let refused = self.list.error.clone();
        let count = self.list.ops.len();
        let call = refused.is_none().then(|| {
            self.list.client.submit(Request::Multi(MultiRequest {
                ops: self.list.ops.clone(),
            }))
        });
        let chroot = self.list.client.chroot_ref().clone();
        async move {
            let Some(call) = call else {
                return Err(MultiError::Request(refused.unwrap_or(Error::BadArguments)));
            };
            let results = match call.await? {
                Response::Multi(r) => r.results,
                _ => return Err(Error::MarshallingError.into()),
            };
            write_results(results, count, &chroot)
        }
    }
}

fn write_results(
    results: Vec<MultiResult>,
    count: usize,
    chroot: &Chroot,
) -> Result<Vec<OpResult>, MultiError> {
    if results.len() != count {
        tracing::warn!(
            sent = count,
            got = results.len(),
            "multi reply has the wrong number of results"
        );
        return Err(Error::MarshallingError.into());
    }
    let failed = results
        .iter()
        .position(|r| matches!(r, MultiResult::Error(code) if *code != 0));
    if let Some(index) = failed {
        let per_op: Vec<Result<(), Error>> = results
            .iter()
            .map(|r| match r {
                MultiResult::Error(code) if *code != 0 => Err(Error::from_code(*code)),
                _ => Ok(()),
            })
            .collect();
        let error = match &per_op[index] {
            Err(e) => e.clone(),
            Ok(()) => Error::MarshallingError,
        };
        return Err(MultiError::OpFailed {
            index,
            error,
            results: per_op,
        });
    }
    results
        .into_iter()
        .map(|r| match r {
            MultiResult::Create(r) => Ok(OpResult::Create {
                path: chroot.client_path_lossy(&r.path),
                stat: None,
            }),
            MultiResult::Create2(r) => Ok(OpResult::Create {
                path: chroot.client_path_lossy(&r.path),
                stat: Some(r.stat),
            }),
            MultiResult::Delete => Ok(OpResult::Delete),
            MultiResult::SetData(r) => Ok(OpResult::SetData { stat: r.stat }),
            MultiResult::Check => Ok(OpResult::Check),
            other => {
                tracing::warn!(result = ?other, "unexpected multi result");
                Err(Error::MarshallingError.into())
            }
        })
        .collect()
}

/// The result of one read of a multiRead: each succeeds or fails on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadResult {
    Data { data: Bytes, stat: Stat },
    Children(Vec<String>),
    Error(Error),
}

/// Reads to run in one round trip (multiRead); not atomic, each has its own result.
/// From [`Client::multi_read`].
///
/// ```no_run
/// # async fn demo(client: ferrokeeper_client::Client) -> ferrokeeper_client::Result<()> {
/// use ferrokeeper_client::ReadResult;
/// let results = client.multi_read().get_data("/a").get_children("/b").execute().await?;
/// if let ReadResult::Data { data, .. } = &results[0] {
///     tracing::info!(bytes = data.len(), "read");
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a multiRead does nothing until executed"]
pub struct MultiReader {
    list: OpList,
}

impl MultiReader {
    pub(crate) fn new(client: Client) -> MultiReader {
        MultiReader {
            list: OpList::new(client),
        }
    }

    fn push(&mut self, path: &str, make: impl FnOnce(String) -> MultiOp) -> &mut Self {
        self.list.push(path, make);
        self
    }

    pub fn get_data(&mut self, path: &str) -> &mut Self {
        self.push(path, |path| {
            MultiOp::GetData(GetDataRequest { path, watch: false })
        })
    }

    pub fn get_children(&mut self, path: &str) -> &mut Self {
        self.push(path, |path| {
            MultiOp::GetChildren(GetChildrenRequest { path, watch: false })
        })
    }

    pub fn len(&self) -> usize {
        self.list.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.ops.is_empty()
    }

    /// Sends the multiRead; one [`ReadResult`] per read, in order.
    pub fn execute(&self) -> impl Future<Output = Result<Vec<ReadResult>>> + Send + use<> {
        let refused = self.list.error.clone();
        let count = self.list.ops.len();
        let call = refused.is_none().then(|| {
            self.list.client.submit(Request::MultiRead(MultiRequest {
                ops: self.list.ops.clone(),
            }))
        });
        async move {
            let Some(call) = call else {
                return Err(refused.unwrap_or(Error::BadArguments));
            };
            let results = match call.await? {
                Response::Multi(r) => r.results,
                _ => return Err(Error::MarshallingError),
            };
            if results.len() != count {
                return Err(Error::MarshallingError);
            }
            results
                .into_iter()
                .map(|r| match r {
                    MultiResult::GetData(r) => Ok(ReadResult::Data {
                        data: r.data.unwrap_or_default(),
                        stat: r.stat,
                    }),
                    MultiResult::GetChildren(r) => Ok(ReadResult::Children(r.children)),
                    MultiResult::Error(code) => Ok(ReadResult::Error(Error::from_code(code))),
                    other => {
                        tracing::warn!(result = ?other, "unexpected multiRead result");
                        Err(Error::MarshallingError)
                    }
                })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrokeeper_protocol::{Create2Response, SetDataResponse};

    #[test]
    fn failed_multi_shape() {
        let results = vec![
            MultiResult::Error(0),
            MultiResult::Error(-101),
            MultiResult::Error(-2),
        ];
        let err = write_results(results, 3, &Chroot::default()).unwrap_err();
        assert_eq!(
            err,
            MultiError::OpFailed {
                index: 1,
                error: Error::NoNode,
                results: vec![Ok(()), Err(Error::NoNode), Err(Error::RuntimeInconsistency)],
            }
        );
        assert_eq!(Error::from(err), Error::NoNode);
    }

    #[test]
    fn committed_multi_strips_the_chroot() {
        let chroot = Chroot::parse("/app").unwrap();
        let results = vec![
            MultiResult::Create2(Create2Response {
                path: "/app/x0000000001".into(),
                stat: Stat::default(),
            }),
            MultiResult::SetData(SetDataResponse {
                stat: Stat::default(),
            }),
            MultiResult::Delete,
            MultiResult::Check,
        ];
        let ok = write_results(results, 4, &chroot).unwrap();
        assert_eq!(
            ok[0],
            OpResult::Create {
                path: "/x0000000001".into(),
                stat: Some(Stat::default())
            }
        );
        assert_eq!(ok[2..], [OpResult::Delete, OpResult::Check]);
        assert_eq!(
            write_results(vec![MultiResult::Check], 2, &chroot),
            Err(MultiError::Request(Error::MarshallingError))
        );
    }
}
