//! Declares the enums whose values are fixed ZooKeeper numbers. Each gets `code()`,
//! `from_code()` (unknown numbers give `None`, never a panic) and `TryFrom<i32>`.

macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $value:expr ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[cfg_attr(feature = "serde", derive(::serde::Serialize, ::serde::Deserialize))]
        #[repr(i32)]
        pub enum $name {
            $( $(#[$vmeta])* $variant = $value ),*
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The number ZooKeeper uses on the wire.
            pub const fn code(self) -> i32 {
                self as i32
            }

            /// The value for a wire number, or `None` if ZooKeeper 3.8 has no such value.
            pub const fn from_code(code: i32) -> Option<Self> {
                match code {
                    $( $value => Some($name::$variant), )*
                    _ => None,
                }
            }

            /// The variant's name, as ZooKeeper's Java enum spells it in CamelCase.
            pub const fn name(self) -> &'static str {
                match self {
                    $( $name::$variant => stringify!($variant), )*
                }
            }
        }

        impl From<$name> for i32 {
            fn from(value: $name) -> i32 {
                value.code()
            }
        }

        impl TryFrom<i32> for $name {
            type Error = $crate::error::DecodeError;
            fn try_from(code: i32) -> Result<Self, $crate::error::DecodeError> {
                $name::from_code(code).ok_or_else(|| {
                    $crate::error::DecodeError::new($crate::error::DecodeErrorKind::UnknownValue(code))
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}
pub(crate) use wire_enum;
