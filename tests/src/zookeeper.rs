//! A real Apache ZooKeeper 3.8 server (Debian's package) for differential tests.
