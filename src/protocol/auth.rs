//! Session start and authentication: the StartupMessage, then cleartext, MD5 and SCRAM-SHA-256
//! exchanges (postgres-protocol computes the proofs); other methods are refused with asyncpg's error.

use fallible_iterator::FallibleIterator;
use postgres_protocol::authentication::{md5_hash, sasl};
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;
use pyo3::prelude::*;

use super::queue::{Kind, Pending};
use super::wrap::{io_err, protocol_err};
use super::PyBaseProtocol;
use crate::errors;

impl PyBaseProtocol {
    /// An authentication request from the server: answer it, or refuse the method.
    pub(super) fn on_auth_message(&mut self, py: Python<'_>, msg: Message) -> PyResult<()> {
        match msg {
            Message::AuthenticationOk => Ok(()),
            Message::AuthenticationCleartextPassword => {
                let pw = self.password.clone().unwrap_or_default();
                frontend::password_message(pw.as_bytes(), &mut self.outbuf).map_err(|e| io_err(py, e))?;
                self.flush(py)
            }
            Message::AuthenticationMd5Password(body) => {
                let pw = self.password.clone().unwrap_or_default();
                let hash = md5_hash(self.user.as_bytes(), pw.as_bytes(), body.salt());
                frontend::password_message(hash.as_bytes(), &mut self.outbuf).map_err(|e| io_err(py, e))?;
                self.flush(py)
            }
            Message::AuthenticationSasl(body) => {
                let mechs: Vec<String> = body
                    .mechanisms()
                    .map(|m| Ok(m.to_owned()))
                    .collect()
                    .map_err(|e| protocol_err(py, e.to_string()))?;
                if !mechs.iter().any(|m| m == sasl::SCRAM_SHA_256) {
                    return Err(self.auth_unsupported(py, &format!("SASL ({})", mechs.join(", "))));
                }
                let pw = self.password.clone().unwrap_or_default();
                let scram = sasl::ScramSha256::new(pw.as_bytes(), sasl::ChannelBinding::unsupported());
                frontend::sasl_initial_response(sasl::SCRAM_SHA_256, scram.message(), &mut self.outbuf)
                    .map_err(|e| io_err(py, e))?;
                self.scram = Some(scram);
                self.flush(py)
            }
            Message::AuthenticationSaslContinue(body) => {
                let Some(scram) = self.scram.as_mut() else {
                    return Err(protocol_err(py, "unexpected SASL continue message"));
                };
                scram
                    .update(body.data())
                    .map_err(|e| protocol_err(py, format!("SCRAM authentication failed: {e}")))?;
                frontend::sasl_response(scram.message(), &mut self.outbuf).map_err(|e| io_err(py, e))?;
                self.flush(py)
            }
            Message::AuthenticationSaslFinal(body) => {
                let Some(mut scram) = self.scram.take() else {
                    return Err(protocol_err(py, "unexpected SASL final message"));
                };
                scram
                    .finish(body.data())
                    .map_err(|e| protocol_err(py, format!("SCRAM authentication failed: {e}")))
            }
            Message::AuthenticationGss | Message::AuthenticationGssContinue(_) => Err(self.auth_unsupported(py, "GSS")),
            Message::AuthenticationKerberosV5 => Err(self.auth_unsupported(py, "Kerberos V5")),
            Message::AuthenticationScmCredential => Err(self.auth_unsupported(py, "SCM credentials")),
            Message::AuthenticationSspi => Err(self.auth_unsupported(py, "SSPI")),
            _ => Err(protocol_err(py, "unexpected message from the server")),
        }
    }
    /// Send the StartupMessage; the future resolves once the server is ready for queries.
    pub(super) fn send_startup(
        &mut self,
        py: Python<'_>,
        user: String,
        database: String,
        password: Option<String>,
        server_settings: Option<Vec<(String, String)>>,
    ) -> PyResult<Py<PyAny>> {
        let mut params: Vec<(String, String)> = vec![
            ("user".into(), user.clone()),
            ("database".into(), database),
            ("client_encoding".into(), "utf8".into()),
        ];
        for (k, v) in server_settings.unwrap_or_default() {
            if let Some(p) = params.iter_mut().find(|(pk, _)| *pk == k) {
                p.1 = v;
            } else {
                params.push((k, v));
            }
        }
        self.user = user;
        self.password = password;
        frontend::startup_message(params.iter().map(|(k, v)| (k.as_str(), v.as_str())), &mut self.outbuf)
            .map_err(|e| io_err(py, e))?;
        let fut = self.new_future(py)?;
        self.pending.push_back(Pending {
            fut: fut.clone_ref(py),
            kind: Kind::Startup,
            failure: None,
            status: None,
        });
        self.flush(py)?;
        Ok(fut)
    }

    pub(super) fn auth_unsupported(&self, py: Python<'_>, method: &str) -> PyErr {
        errors::client_error(
            py,
            "InterfaceError",
            format!("unsupported authentication method requested by the server: {method}"),
        )
    }
}
