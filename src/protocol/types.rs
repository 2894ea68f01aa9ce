//! Codec choice per type OID and the driving of type introspection: user overrides
//! (`set_type_codec`, `set_builtin_type_codec`), the builtin table, then types found by the catalog
//! query of `introspection.rs`, which is sent when a described statement uses an unknown OID.

use std::collections::HashMap;
use std::sync::Arc;

use postgres_protocol::message::frontend;
use pyo3::prelude::*;

use super::introspection;
use super::queue::{set_exception, Described, Kind, Pending};
use super::statement::Bind;
use super::wrap::{io_err, protocol_err};
use super::PyBaseProtocol;
use crate::codecs::Codec;
use crate::errors;

impl PyBaseProtocol {
    /// The catalog query answered: build codecs for the types it described, then finish the
    /// prepare it interrupted.
    pub(super) fn finish_introspection(
        &mut self,
        py: Python<'_>,
        fut: Py<PyAny>,
        oids: Vec<u32>,
        rows: &[Vec<Option<String>>],
        resume: Described,
    ) -> PyResult<()> {
        let types = introspection::parse_rows(rows);
        let built = {
            let known = |oid: u32| self.codec_for(oid);
            introspection::build_codecs(py, &types, &known)
        };
        let built = match built {
            Ok(built) => built,
            Err(e) => {
                // A type this driver cannot exchange (a composite or range over a text-only
                // type): the request fails with asyncpg's error; the connection goes on, and the
                // statement parsed for it is closed with the next request.
                if !resume.name.is_empty() {
                    frontend::close(b'S', &resume.name, &mut self.outbuf).map_err(|e| io_err(py, e))?;
                }
                set_exception(py, &fut, e);
                return Ok(());
            }
        };
        self.type_cache.extend(built);
        for oid in types.keys() {
            if let Some(info) = introspection::describe(*oid, &types, 0) {
                self.type_info.insert(*oid, info);
            }
        }
        self.introspected.extend(oids);
        self.introspected.extend(types.keys().copied());
        self.finish_prepare(py, fut, resume)
    }

    /// Use the Python `encoder`/`decoder` for type `oid` (`set_type_codec`). `format` is 'text',
    /// 'binary' or 'tuple'. Cached statements and types are dropped, as in asyncpg.
    pub(super) fn override_codec(
        &mut self,
        py: Python<'_>,
        oid: u32,
        type_name: &str,
        encoder: Py<PyAny>,
        decoder: Py<PyAny>,
        format: &str,
    ) -> PyResult<()> {
        let format = match format {
            "text" => crate::codecs::UserFormat::Text,
            "binary" => crate::codecs::UserFormat::Binary,
            "tuple" => crate::codecs::UserFormat::Tuple,
            other => {
                return Err(errors::client_error(
                    py,
                    "InterfaceError",
                    format!("invalid `format` argument, expected 'text', 'binary' or 'tuple', got {other:?}"),
                ))
            }
        };
        self.overrides.remove(&oid);
        let base = self.codec_for(oid);
        let codec = Codec::user(py, oid, type_name, encoder, decoder, format, base)?;
        self.overrides.insert(oid, codec);
        self.forget_types();
        Ok(())
    }

    /// Use the builtin codec `codec_name` for type `oid` (`set_builtin_type_codec`).
    pub(super) fn alias_codec(&mut self, py: Python<'_>, oid: u32, type_name: &str, codec_name: &str) -> PyResult<()> {
        let codec = Codec::builtin_by_name(oid, codec_name).ok_or_else(|| {
            errors::client_error(
                py,
                "InterfaceError",
                format!("cannot alias {type_name} to unknown codec {codec_name:?}"),
            )
        })?;
        self.overrides.insert(oid, codec);
        self.forget_types();
        Ok(())
    }

    /// Forget cached statements and introspected types (`reload_schema_state`).
    pub(super) fn forget_types(&mut self) {
        self.clear_statement_cache();
        self.type_cache.clear();
        self.type_info.clear();
        self.introspected.clear();
    }

    /// The codec for a type OID: the user's, else the builtin one, else one found by introspection.
    pub(super) fn codec_for(&self, oid: u32) -> Option<Codec> {
        lookup_codec(&self.overrides, &self.type_cache, oid)
    }

    pub(super) fn unknown_oids(&self, d: &Described) -> Vec<u32> {
        let mut out: Vec<u32> = Vec::new();
        for &oid in d.params.iter().chain(d.columns.iter().map(|(_, oid)| oid)) {
            if oid != 0 && !out.contains(&oid) && !self.introspected.contains(&oid) && self.codec_for(oid).is_none() {
                out.push(oid);
            }
        }
        out
    }

    pub(super) fn send_introspection(
        &mut self,
        py: Python<'_>,
        fut: Py<PyAny>,
        oids: Vec<u32>,
        resume: Described,
    ) -> PyResult<()> {
        self.write_pending_closes(py)?;
        frontend::parse("", introspection::INTROSPECTION_QUERY, [1028u32], &mut self.outbuf)
            .map_err(|e| io_err(py, e))?;
        let literal = introspection::oid_array_literal(&oids);
        // The OID array as one text parameter; every result column in text format.
        let bind = Bind::start(py, &mut self.outbuf, "", "", std::iter::once(0))?;
        Bind::value(&mut self.outbuf, Some(literal.as_bytes())).map_err(|()| protocol_err(py, "too many types"))?;
        bind.finish(py, &mut self.outbuf, &[0])?;
        frontend::execute("", 0, &mut self.outbuf).map_err(|e| io_err(py, e))?;
        frontend::sync(&mut self.outbuf);
        let kind = Kind::Introspect {
            oids,
            rows: Vec::new(),
            resume: Box::new(resume),
        };
        self.pending.push_back(Pending {
            fut,
            kind,
            failure: None,
            status: None,
        });
        self.flush(py)
    }
}

/// The codec for `oid`: a user override, else the builtin codec (arrays over an overridden element
/// type use the override), else one found by introspection.
pub(super) fn lookup_codec(
    overrides: &HashMap<u32, Codec>,
    type_cache: &HashMap<u32, Codec>,
    oid: u32,
) -> Option<Codec> {
    if let Some(c) = overrides.get(&oid) {
        return Some(c.clone());
    }
    if !overrides.is_empty() {
        if let Some(elem) = crate::codecs::array_element(oid) {
            if let Some(e) = overrides.get(&elem) {
                return Some(Codec::Array(Arc::new(crate::codecs::ArrayCodec::new(
                    oid,
                    elem,
                    e.clone(),
                ))));
            }
        }
    }
    Codec::for_oid(oid).or_else(|| type_cache.get(&oid).cloned())
}
