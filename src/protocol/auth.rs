//! Session start and authentication: the StartupMessage, then cleartext, MD5 and SCRAM-SHA-256
//! exchanges (postgres-protocol computes the SCRAM proofs, Python's hashlib the MD5 one, as in
//! asyncpg), SCRAM-SHA-256-PLUS channel binding (`tls-server-end-point`) with libpq's
//! `channel_binding` policy; GSSAPI (Kerberos) through a Python callback that computes the tokens
//! (connect_utils' `_GssAuth`, on the optional `gssapi` package, as asyncpg); other methods are
//! refused with asyncpg's error.

use fallible_iterator::FallibleIterator;
use postgres_protocol::authentication::sasl;
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;
use pyo3::prelude::*;

use super::framing::check_scram_server_first;
use super::queue::{Kind, Pending};
use super::wrap::{io_err, protocol_err};
use super::PyBaseProtocol;
use crate::errors;

/// libpq's `channel_binding` setting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum ChannelBindingPolicy {
    Disable,
    #[default]
    Prefer,
    Require,
}

/// What one authentication exchange negotiated.
#[derive(Debug, Default)]
pub(super) struct AuthState {
    /// AuthenticationOk was received.
    pub(super) received: bool,
    pub(super) policy: ChannelBindingPolicy,
    /// `tls-server-end-point` data (the server certificate's hash), when over TLS.
    pub(super) end_point: Option<Vec<u8>>,
    /// The SASL mechanism chosen, once the exchange started.
    pub(super) mechanism: Option<&'static str>,
    /// GSSAPI: `step(server_token: bytes | None) -> bytes | None`, called for AuthenticationGSS
    /// (with None) and each AuthenticationGSSContinue; a token it returns is sent as GSSResponse.
    pub(super) gss_step: Option<Py<PyAny>>,
    /// The server asked for GSS/SSPI once already.
    pub(super) gss_started: bool,
}

impl AuthState {
    pub(super) fn new(
        py: Python<'_>,
        policy: Option<&str>,
        end_point: Option<Vec<u8>>,
        gss_step: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let policy = match policy {
            // Not given: asyncpg's behaviour (no binding), so code written for asyncpg sees no change.
            None | Some("disable") => ChannelBindingPolicy::Disable,
            Some("prefer") => ChannelBindingPolicy::Prefer,
            Some("require") => ChannelBindingPolicy::Require,
            Some(other) => {
                return Err(errors::client_error(
                    py,
                    "ClientConfigurationError",
                    format!("channel_binding must be one of: disable, prefer, require; got {other:?}"),
                ))
            }
        };
        Ok(AuthState {
            received: false,
            policy,
            end_point: end_point.filter(|e| !e.is_empty()),
            mechanism: None,
            gss_step,
            gss_started: false,
        })
    }
}

/// asyncpg's MD5 answer, `"md5" + md5(md5(password + user) + salt)`, through Python's hashlib so a
/// build without MD5 (FIPS) fails the same way (`InternalClientError` from hashlib's error).
fn md5_password(py: Python<'_>, user: &str, password: &str, salt: &[u8]) -> PyResult<String> {
    let compute = || -> PyResult<String> {
        let md5 = py.import("hashlib")?.getattr("md5")?;
        let hex = |data: Vec<u8>| -> PyResult<String> {
            md5.call1((pyo3::types::PyBytes::new(py, &data),))?
                .call_method0("hexdigest")?
                .extract::<String>()
        };
        let inner = hex([password.as_bytes(), user.as_bytes()].concat())?;
        let outer = hex([inner.as_bytes(), salt].concat())?;
        Ok(format!("md5{outer}"))
    };
    compute().map_err(|e| {
        let err = errors::client_error(
            py,
            "InternalClientError",
            format!("unexpected error while performing authentication: {e}"),
        );
        err.set_cause(py, Some(e));
        err
    })
}

impl PyBaseProtocol {
    /// libpq's refusal when `channel_binding=require` and the server authenticates otherwise.
    fn check_channel_binding_not_required(&self, py: Python<'_>) -> PyResult<()> {
        if self.auth.policy == ChannelBindingPolicy::Require && self.auth.mechanism != Some(sasl::SCRAM_SHA_256_PLUS) {
            return Err(errors::client_error(
                py,
                "InterfaceError",
                "channel binding required, but server authenticated client without channel binding",
            ));
        }
        Ok(())
    }

    /// An authentication request from the server: answer it, or refuse the method.
    pub(super) fn on_auth_message(&mut self, py: Python<'_>, msg: Message) -> PyResult<()> {
        match msg {
            Message::AuthenticationOk => {
                if self.scram.is_some() {
                    // The server must prove it knows the password (SASL final) before we trust it.
                    return Err(protocol_err(
                        py,
                        "invalid Authentication message: AuthenticationOk before the SCRAM exchange finished",
                    ));
                }
                self.check_channel_binding_not_required(py)?;
                self.auth.received = true;
                // The security context is not needed once the server accepted us.
                self.auth.gss_step = None;
                Ok(())
            }
            Message::AuthenticationCleartextPassword => {
                self.check_channel_binding_not_required(py)?;
                let pw = self.password.clone().unwrap_or_default();
                frontend::password_message(pw.as_bytes(), &mut self.outbuf).map_err(|e| io_err(py, e))?;
                self.flush(py)
            }
            Message::AuthenticationMd5Password(body) => {
                self.check_channel_binding_not_required(py)?;
                let pw = self.password.clone().unwrap_or_default();
                let hash = md5_password(py, &self.user, &pw, &body.salt())?;
                frontend::password_message(hash.as_bytes(), &mut self.outbuf).map_err(|e| io_err(py, e))?;
                self.flush(py)
            }
            Message::AuthenticationSasl(body) => {
                let mechs: Vec<String> = body
                    .mechanisms()
                    .map(|m| Ok(m.to_owned()))
                    .collect()
                    .map_err(|e| protocol_err(py, e.to_string()))?;
                let offers = |name: &str| mechs.iter().any(|m| m == name);
                let pw = self.password.clone().unwrap_or_default();
                let (mechanism, binding) = match (&self.auth.end_point, self.auth.policy) {
                    (Some(end_point), ChannelBindingPolicy::Prefer | ChannelBindingPolicy::Require)
                        if offers(sasl::SCRAM_SHA_256_PLUS) =>
                    {
                        (
                            sasl::SCRAM_SHA_256_PLUS,
                            sasl::ChannelBinding::tls_server_end_point(end_point.clone()),
                        )
                    }
                    (_, ChannelBindingPolicy::Require) => {
                        return Err(errors::client_error(
                            py,
                            "InterfaceError",
                            if self.auth.end_point.is_none() {
                                "channel binding is required, but the connection does not use TLS"
                            } else {
                                "channel binding is required, but server did not offer an authentication \
                                 method that supports channel binding"
                            },
                        ));
                    }
                    // Over TLS the client could bind but the server did not offer it: say so
                    // ("y"), so that a server that stripped the -PLUS mechanism is detected.
                    (Some(_), ChannelBindingPolicy::Prefer) if offers(sasl::SCRAM_SHA_256) => {
                        (sasl::SCRAM_SHA_256, sasl::ChannelBinding::unrequested())
                    }
                    _ if offers(sasl::SCRAM_SHA_256) => (sasl::SCRAM_SHA_256, sasl::ChannelBinding::unsupported()),
                    _ => return Err(self.auth_unsupported(py, &format!("SASL ({})", mechs.join(", ")))),
                };
                let scram = sasl::ScramSha256::new(pw.as_bytes(), binding);
                frontend::sasl_initial_response(mechanism, scram.message(), &mut self.outbuf)
                    .map_err(|e| io_err(py, e))?;
                self.scram = Some(scram);
                self.auth.mechanism = Some(mechanism);
                self.flush(py)
            }
            Message::AuthenticationSaslContinue(body) => {
                let Some(scram) = self.scram.as_mut() else {
                    return Err(protocol_err(py, "unexpected SASL continue message"));
                };
                check_scram_server_first(scram.message(), body.data()).map_err(|e| protocol_err(py, e.0))?;
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
            // SSPI (code 9) is GSS with SPNEGO negotiation; asyncpg answers both the same way.
            Message::AuthenticationGss | Message::AuthenticationSspi => {
                if self.auth.gss_started {
                    return Err(errors::client_error(
                        py,
                        "InterfaceError",
                        "duplicate GSSAPI/SSPI authentication request",
                    ));
                }
                self.auth.gss_started = true;
                self.check_channel_binding_not_required(py)?;
                self.gss_step(py, None)
            }
            Message::AuthenticationGssContinue(body) => {
                if !self.auth.gss_started {
                    return Err(protocol_err(py, "unexpected GSS continue message"));
                }
                self.gss_step(py, Some(body.data()))
            }
            Message::AuthenticationKerberosV5 => Err(self.auth_unsupported(py, "Kerberos V5")),
            Message::AuthenticationScmCredential => Err(self.auth_unsupported(py, "SCM credentials")),
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

    /// One GSSAPI step: the Python callback turns the server's token into ours (None or empty:
    /// nothing to send), which goes out as a GSSResponse ('p' with the raw token).
    fn gss_step(&mut self, py: Python<'_>, server_token: Option<&[u8]>) -> PyResult<()> {
        let Some(step) = self.auth.gss_step.as_ref().map(|s| s.clone_ref(py)) else {
            return Err(self.auth_unsupported(py, "GSS"));
        };
        let arg = server_token.map(|t| pyo3::types::PyBytes::new(py, t));
        let token = step
            .call1(py, (arg,))
            .and_then(|t| t.extract::<Option<Vec<u8>>>(py))
            .map_err(|e| {
                // asyncpg's wrapping of any error while authenticating (gssapi's GSSError, the
                // missing package), with the original as the cause.
                let text = e.value(py).str().map(|s| s.to_string()).unwrap_or_default();
                let err = errors::client_error(
                    py,
                    "InternalClientError",
                    format!("unexpected error while performing authentication: {text}"),
                );
                err.set_cause(py, Some(e));
                err
            })?;
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Ok(());
        };
        frontend::sasl_response(&token, &mut self.outbuf).map_err(|e| io_err(py, e))?;
        self.flush(py)
    }

    pub(super) fn auth_unsupported(&self, py: Python<'_>, method: &str) -> PyErr {
        errors::client_error(
            py,
            "InterfaceError",
            format!("unsupported authentication method requested by the server: {method}"),
        )
    }
}
