//! `codec_table!`: the codecs declared as a table, one row per codec, from which the `Codec` enum
//! and its dispatch (`oid`, `decode`, `encode`, and `for_oid` for one-type codecs) are derived.
//!
//! Two kinds of rows. A one-type codec is a unit variant and the OID constant of its type (from the
//! generated `oids.rs`), then its decode and encode expressions: `Bool = BOOL: decode, encode;`.
//! A codec with data (several OIDs, arrays, introspected or user types) is a pattern over `Codec`,
//! the expression of its OID, then decode and encode: `Codec::Text(oid) => *oid: decode, encode;`;
//! its variant is declared in the table's `data` block, and `for_oid` builds it by hand. The names
//! in the header (`py`, `buf`, `value`, `out`) are the arguments the expressions use.
//!
//! Adding a builtin type with a codec of its own: its name in `tools/gen_oids.py`, one row here
//! and its two functions. The compiler checks that every variant has a row.

macro_rules! codec_table {
    (
        ($py:ident, $buf:ident, $value:ident, $out:ident);
        unit {
            $( $(#[$udoc:meta])* $uvariant:ident = $uoid:ident : $udec:expr , $uenc:expr ; )*
        }
        data {
            $( $(#[$ddoc:meta])* $dvariant:ident ( $dfield:ty ) , )*
        }
        rows {
            $( $pat:pat => $doid:expr ; $ddec:expr , $denc:expr ; )*
        }
    ) => {
        /// A codec for one PostgreSQL type, dispatched with `match` (no trait objects on the hot
        /// path). Declared by the table in `codecs/mod.rs` (see `codecs/declare.rs`).
        #[derive(Clone, Debug)]
        pub enum Codec {
            $( $(#[$udoc])* $uvariant, )*
            $( $(#[$ddoc])* $dvariant($dfield), )*
        }

        impl Codec {
            /// The one-type codec of `oid` (a unit row of the table), if there is one.
            fn unit_for_oid(oid: u32) -> Option<Codec> {
                match oid {
                    $( oids::$uoid => Some(Codec::$uvariant), )*
                    _ => None,
                }
            }

            /// The type OID this codec was made for.
            #[allow(unused_variables)]
            pub fn oid(&self) -> u32 {
                match self {
                    $( Codec::$uvariant => oids::$uoid, )*
                    $( $pat => $doid, )*
                }
            }

            /// Decode one non-NULL binary value.
            #[allow(unused_variables)]
            pub fn decode(&self, $py: Python<'_>, $buf: &[u8]) -> PyResult<Py<PyAny>> {
                match self {
                    $( Codec::$uvariant => $udec, )*
                    $( $pat => $ddec, )*
                }
            }

            /// Encode one non-None value, appending its binary form to `out`.
            #[allow(unused_variables)]
            pub fn encode(&self, $value: &Bound<'_, PyAny>, $out: &mut Vec<u8>) -> PyResult<()> {
                match self {
                    $( Codec::$uvariant => $uenc, )*
                    $( $pat => $denc, )*
                }
            }
        }
    };
}
