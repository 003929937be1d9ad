//! Proptest strategies for every wire type, for round-trip tests here and for other
//! crates' property tests (feature `arbitrary`).

use bytes::Bytes;
use proptest::prelude::*;
use std::fmt::Debug;

/// A type with a default proptest strategy covering its whole wire range.
pub trait Arb: Sized + Debug + Clone + 'static {
    fn arb() -> BoxedStrategy<Self>;
}

impl Arb for i32 {
    fn arb() -> BoxedStrategy<Self> {
        any::<i32>().boxed()
    }
}

impl Arb for i64 {
    fn arb() -> BoxedStrategy<Self> {
        any::<i64>().boxed()
    }
}

impl Arb for bool {
    fn arb() -> BoxedStrategy<Self> {
        any::<bool>().boxed()
    }
}

impl Arb for String {
    fn arb() -> BoxedStrategy<Self> {
        "\\PC{0,12}".boxed()
    }
}

impl Arb for Bytes {
    fn arb() -> BoxedStrategy<Self> {
        proptest::collection::vec(any::<u8>(), 0..24)
            .prop_map(Bytes::from)
            .boxed()
    }
}

impl<T: Arb> Arb for Vec<T> {
    fn arb() -> BoxedStrategy<Self> {
        proptest::collection::vec(T::arb(), 0..4).boxed()
    }
}

impl<T: Arb> Arb for Option<T> {
    fn arb() -> BoxedStrategy<Self> {
        proptest::option::of(T::arb()).boxed()
    }
}
