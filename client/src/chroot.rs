//! Chroot: a path prefix the client adds to every path it sends and strips from every
//! path it receives. ZooKeeper servers know nothing of it.

use std::sync::Arc;

use crate::error::{Error, Result};

/// A chroot such as `/app`, or none (the server's root).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Chroot(Option<Arc<str>>);

/// Rejects what is certainly not a ZooKeeper path before it is sent (the server checks
/// the rest and answers BadArguments).
pub(crate) fn check_path(path: &str) -> Result<()> {
    if !path.starts_with('/') || path.contains('\0') {
        return Err(Error::BadArguments);
    }
    Ok(())
}

impl Chroot {
    /// `""` and `"/"` mean no chroot; anything else must be an absolute path without a
    /// trailing slash or empty segments, as ZooKeeper's Java client requires.
    pub(crate) fn parse(chroot: &str) -> Result<Chroot> {
        if chroot.is_empty() || chroot == "/" {
            return Ok(Chroot(None));
        }
        check_path(chroot)?;
        let bad_segment = chroot[1..]
            .split('/')
            .any(|segment| segment.is_empty() || segment == "." || segment == "..");
        if bad_segment {
            return Err(Error::BadArguments);
        }
        Ok(Chroot(Some(Arc::from(chroot))))
    }

    /// This chroot with `sub` (itself a chroot-style path) below it.
    pub(crate) fn join(&self, sub: &Chroot) -> Chroot {
        match (&self.0, &sub.0) {
            (Some(base), Some(sub)) => Chroot(Some(Arc::from(format!("{base}{sub}")))),
            (None, _) => sub.clone(),
            (_, None) => self.clone(),
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// The server's path for a client path (which must start with `/`).
    pub(crate) fn server_path(&self, path: &str) -> String {
        match &self.0 {
            None => path.to_owned(),
            Some(root) if path == "/" => root.to_string(),
            Some(root) => format!("{root}{path}"),
        }
    }

    /// Checks a client path and maps it to the server's.
    pub(crate) fn checked(&self, path: &str) -> Result<String> {
        check_path(path)?;
        Ok(self.server_path(path))
    }

    /// The client's path for a server path, or `None` when it lies outside the chroot.
    pub(crate) fn client_path(&self, server_path: &str) -> Option<String> {
        let Some(root) = &self.0 else {
            return Some(server_path.to_owned());
        };
        let rest = server_path.strip_prefix(&**root)?;
        if rest.is_empty() {
            Some("/".to_owned())
        } else if rest.starts_with('/') {
            Some(rest.to_owned())
        } else {
            None
        }
    }

    /// As [`Chroot::client_path`], keeping a path outside the chroot as it is (logged:
    /// a server should never send one).
    pub(crate) fn client_path_lossy(&self, server_path: &str) -> String {
        self.client_path(server_path).unwrap_or_else(|| {
            tracing::warn!(
                server_path,
                chroot = self.as_str(),
                "server path outside the chroot"
            );
            server_path.to_owned()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_in_and_out() {
        let none = Chroot::parse("/").unwrap();
        assert_eq!(none, Chroot::default());
        assert_eq!(none.server_path("/a"), "/a");
        assert_eq!(none.client_path("/a").as_deref(), Some("/a"));

        let app = Chroot::parse("/app").unwrap();
        assert_eq!(app.server_path("/"), "/app");
        assert_eq!(app.server_path("/x/y"), "/app/x/y");
        assert_eq!(app.server_path("/seq-"), "/app/seq-");
        assert_eq!(app.client_path("/app").as_deref(), Some("/"));
        assert_eq!(app.client_path("/app/x").as_deref(), Some("/x"));
        assert_eq!(app.client_path("/apple"), None);
        assert_eq!(app.client_path("/other"), None);
        assert_eq!(app.client_path_lossy("/other"), "/other");

        let nested = app.join(&Chroot::parse("/b/c").unwrap());
        assert_eq!(nested.as_str(), Some("/app/b/c"));
        assert_eq!(none.join(&app), app);
        assert_eq!(app.join(&none), app);

        for bad in ["app", "/app/", "/a//b", "/a/./b", "/a/..", "/a\0"] {
            assert_eq!(Chroot::parse(bad), Err(Error::BadArguments), "{bad:?}");
        }
        assert_eq!(app.checked("rel"), Err(Error::BadArguments));
    }
}
