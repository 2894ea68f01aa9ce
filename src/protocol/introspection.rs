//! Types the builtin table does not know (enums, domains, composites, ranges, arrays of these) are
//! described by one catalog query per batch of unknown OIDs, then turned into codecs and cached per
//! connection. The query follows element types, domain base types, range subtypes and composite
//! attributes recursively, so nested combinations resolve in one round trip.

use std::collections::{HashMap, HashSet};

use pyo3::prelude::*;

use crate::codecs::Codec;

/// `$1` is an `oid[]` in text format. Every column comes back as text. Rows of kind `t` describe a
/// type, rows of kind `a` one attribute of a composite type (in attribute order).
pub const INTROSPECTION_QUERY: &str = "\
WITH RECURSIVE wanted(oid) AS (
    SELECT unnest($1::oid[])
  UNION
    SELECT dep.oid
    FROM wanted w
    JOIN pg_catalog.pg_type t ON t.oid = w.oid
    CROSS JOIN LATERAL (
        SELECT t.typelem AS oid WHERE t.typcategory = 'A' AND t.typelem <> 0
        UNION ALL SELECT t.typbasetype WHERE t.typtype = 'd'
        UNION ALL SELECT r.rngsubtype FROM pg_catalog.pg_range r WHERE r.rngtypid = t.oid
        UNION ALL SELECT r.rngtypid FROM pg_catalog.pg_range r WHERE r.rngmultitypid = t.oid
        UNION ALL SELECT a.atttypid FROM pg_catalog.pg_attribute a
            WHERE t.typrelid <> 0 AND a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
    ) dep
)
SELECT 't', t.oid::text, n.nspname::text, t.typname::text, t.typtype::text, t.typcategory::text,
       t.typelem::text, t.typbasetype::text,
       (SELECT r.rngsubtype::text FROM pg_catalog.pg_range r WHERE r.rngtypid = t.oid),
       (SELECT r.rngtypid::text FROM pg_catalog.pg_range r WHERE r.rngmultitypid = t.oid),
       NULL
FROM (SELECT DISTINCT oid FROM wanted) w
JOIN pg_catalog.pg_type t ON t.oid = w.oid
JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
UNION ALL
SELECT 'a', t.oid::text, a.attname::text, NULL, NULL, NULL, a.atttypid::text, NULL, NULL, NULL,
       a.attnum::text
FROM (SELECT DISTINCT oid FROM wanted) w
JOIN pg_catalog.pg_type t ON t.oid = w.oid
JOIN pg_catalog.pg_attribute a ON a.attrelid = t.typrelid
WHERE t.typrelid <> 0 AND a.attnum > 0 AND NOT a.attisdropped";

/// What the catalog says about one type.
#[derive(Debug, Default)]
pub struct TypeDesc {
    pub oid: u32,
    pub schema: String,
    pub name: String,
    /// pg_type.typtype: b base, c composite, d domain, e enum, r range, m multirange, p pseudo.
    pub typtype: char,
    /// pg_type.typcategory ('A' for arrays).
    pub category: char,
    pub elem: u32,
    pub base: u32,
    pub range_subtype: u32,
    pub multirange_of: u32,
    /// Composite attributes in order: (attnum, name, type OID).
    pub fields: Vec<(i32, String, u32)>,
}

fn oid_of(v: Option<&String>) -> u32 {
    v.and_then(|s| s.parse().ok()).unwrap_or(0)
}

fn char_of(v: Option<&String>) -> char {
    v.and_then(|s| s.chars().next()).unwrap_or(' ')
}

/// Parse the rows of `INTROSPECTION_QUERY`.
pub fn parse_rows(rows: &[Vec<Option<String>>]) -> HashMap<u32, TypeDesc> {
    let mut types: HashMap<u32, TypeDesc> = HashMap::new();
    let mut fields: Vec<(u32, i32, String, u32)> = Vec::new();
    for row in rows {
        let col = |i: usize| row.get(i).and_then(Option::as_ref);
        match col(0).map(String::as_str) {
            Some("t") => {
                let oid = oid_of(col(1));
                types.insert(
                    oid,
                    TypeDesc {
                        oid,
                        schema: col(2).cloned().unwrap_or_default(),
                        name: col(3).cloned().unwrap_or_default(),
                        typtype: char_of(col(4)),
                        category: char_of(col(5)),
                        elem: oid_of(col(6)),
                        base: oid_of(col(7)),
                        range_subtype: oid_of(col(8)),
                        multirange_of: oid_of(col(9)),
                        fields: Vec::new(),
                    },
                );
            }
            Some("a") => {
                let attnum = col(10).and_then(|s| s.parse().ok()).unwrap_or(0);
                fields.push((
                    oid_of(col(1)),
                    attnum,
                    col(2).cloned().unwrap_or_default(),
                    oid_of(col(6)),
                ));
            }
            _ => {}
        }
    }
    for (owner, attnum, name, oid) in fields {
        if let Some(t) = types.get_mut(&owner) {
            t.fields.push((attnum, name, oid));
        }
    }
    for t in types.values_mut() {
        t.fields.sort_by_key(|f| f.0);
    }
    types
}

/// Build codecs for the described types. `known` gives codecs that already exist (overrides,
/// builtins, earlier introspection). Base types without a binary codec get the text-format codec
/// (`Codec::TextFormat`); a composite or range over such a type is an UnsupportedClientFeatureError,
/// as in asyncpg.
pub fn build_codecs(
    py: Python<'_>,
    types: &HashMap<u32, TypeDesc>,
    known: &dyn Fn(u32) -> Option<Codec>,
) -> PyResult<HashMap<u32, Codec>> {
    let mut built: HashMap<u32, Option<Codec>> = HashMap::new();
    let mut visiting = HashSet::new();
    for &oid in types.keys() {
        resolve(py, oid, types, known, &mut built, &mut visiting)?;
    }
    Ok(built.into_iter().filter_map(|(oid, c)| c.map(|c| (oid, c))).collect())
}

fn resolve(
    py: Python<'_>,
    oid: u32,
    types: &HashMap<u32, TypeDesc>,
    known: &dyn Fn(u32) -> Option<Codec>,
    built: &mut HashMap<u32, Option<Codec>>,
    visiting: &mut HashSet<u32>,
) -> PyResult<Option<Codec>> {
    if let Some(c) = known(oid) {
        return Ok(Some(c));
    }
    if let Some(c) = built.get(&oid) {
        return Ok(c.clone());
    }
    let Some(t) = types.get(&oid) else {
        return Ok(None);
    };
    if !visiting.insert(oid) {
        // A type that contains itself (through an array of its composite): read it as text.
        return Ok(None);
    }
    let codec = if t.category == 'A' && t.elem != 0 {
        resolve(py, t.elem, types, known, built, visiting)?
            .map(|elem| Codec::Array(std::sync::Arc::new(crate::codecs::ArrayCodec::new(oid, t.elem, elem))))
    } else {
        match t.typtype {
            // Enum labels travel as their text in binary format too.
            'e' => Some(Codec::Text(oid)),
            'd' => resolve(py, t.base, types, known, built, visiting)?,
            // A range travels in binary only: a subtype read as text cannot be handled (as asyncpg).
            'r' => match resolve(py, t.range_subtype, types, known, built, visiting)? {
                Some(sub) if sub.format_code() == 0 => return Err(text_unsupported(py, t, "range")),
                sub => sub.and_then(|sub| Codec::range(oid, sub)),
            },
            'm' => resolve(py, t.multirange_of, types, known, built, visiting)?
                .and_then(|range| Codec::multirange(oid, range)),
            'c' => {
                let mut fields = Vec::with_capacity(t.fields.len());
                let mut complete = true;
                for (_, name, foid) in &t.fields {
                    // As for ranges: a field read as text cannot be handled (as asyncpg).
                    match resolve(py, *foid, types, known, built, visiting)? {
                        Some(c) if c.format_code() == 0 => return Err(text_unsupported(py, t, "composite")),
                        Some(c) => fields.push((name.clone(), *foid, c)),
                        None => {
                            complete = false;
                            break;
                        }
                    }
                }
                if complete {
                    Codec::composite(py, oid, fields)?.map(|c| c.with_type_name(&t.schema, &t.name))
                } else {
                    None
                }
            }
            // A base type without a binary codec here (citext, hstore, money, extension and
            // user-defined types): exchanged as its text, which makes arrays of it text arrays
            // of the element's decoded values in both directions, as asyncpg.
            'b' => Some(Codec::TextFormat(oid)),
            _ => None,
        }
    };
    visiting.remove(&oid);
    built.insert(oid, codec.clone());
    Ok(codec)
}

/// asyncpg's error for a range or composite type over an element exchanged as text: those travel
/// in binary only, and a text element has no binary form here.
fn text_unsupported(py: Python<'_>, t: &TypeDesc, kind: &str) -> PyErr {
    crate::errors::client_error(
        py,
        "UnsupportedClientFeatureError",
        format!(
            "cannot decode type \"{}\".\"{}\": text encoding of {kind} types is not supported",
            t.schema, t.name
        ),
    )
}

/// The `oid[]` literal for `$1`.
pub fn oid_array_literal(oids: &[u32]) -> String {
    let inner: Vec<String> = oids.iter().map(u32::to_string).collect();
    format!("{{{}}}", inner.join(","))
}

/// (name, kind, schema) of a described type as asyncpg's `Type` shows it: arrays are `elem[]`,
/// domains show their base type, enums are scalars.
pub fn describe(oid: u32, types: &HashMap<u32, TypeDesc>, depth: u8) -> Option<(String, &'static str, String)> {
    if depth > 8 {
        return None;
    }
    let Some(t) = types.get(&oid) else {
        let name = Codec::for_oid(oid)?.type_name().to_owned();
        let name = name
            .strip_prefix('_')
            .map_or_else(|| name.clone(), |n| format!("{n}[]"));
        let kind = if name.ends_with("[]") { "array" } else { "scalar" };
        return Some((name, kind, "pg_catalog".to_owned()));
    };
    if t.category == 'A' && t.elem != 0 {
        let (elem, _, schema) = describe(t.elem, types, depth + 1)?;
        return Some((format!("{elem}[]"), "array", schema));
    }
    let kind = match t.typtype {
        'd' => return describe(t.base, types, depth + 1),
        'c' => "composite",
        'r' => "range",
        'm' => "multirange",
        _ => "scalar",
    };
    Some((t.name.clone(), kind, t.schema.clone()))
}
