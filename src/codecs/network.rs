//! inet and cidr <-> the `ipaddress` module's types.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::classes;

/// PostgreSQL's address family codes on the wire (not the OS's AF_INET6).
const PGSQL_AF_INET: u8 = 2;
const PGSQL_AF_INET6: u8 = 3;

fn bad_inet(why: &str) -> PyErr {
    PyValueError::new_err(format!("invalid inet/cidr value: {why}"))
}

/// inet: an Address when the prefix is the full length, else an Interface; cidr: a Network.
pub fn decode_inet(py: Python<'_>, buf: &[u8], cidr: bool) -> PyResult<Py<PyAny>> {
    let [family, bits, _is_cidr, nb, addr @ ..] = buf else {
        return Err(bad_inet("too short"));
    };
    let (v6, max_bits) = match (*family, *nb) {
        (PGSQL_AF_INET, 4) => (false, 32),
        (PGSQL_AF_INET6, 16) => (true, 128),
        _ => return Err(bad_inet("unknown address family or length")),
    };
    if addr.len() != usize::from(*nb) {
        return Err(bad_inet("address length does not match"));
    }
    if *bits > max_bits {
        return Err(bad_inet("prefix length out of range"));
    }
    let packed = PyBytes::new(py, addr);
    let obj = if cidr {
        let cls = if v6 {
            classes::ipv6_network(py)?
        } else {
            classes::ipv4_network(py)?
        };
        cls.call1(((packed, *bits),))?
    } else if *bits == max_bits {
        let cls = if v6 {
            classes::ipv6_address(py)?
        } else {
            classes::ipv4_address(py)?
        };
        cls.call1((packed,))?
    } else {
        let cls = if v6 {
            classes::ipv6_interface(py)?
        } else {
            classes::ipv4_interface(py)?
        };
        cls.call1(((packed, *bits),))?
    };
    Ok(obj.unbind())
}

/// inet takes whatever `ipaddress.ip_interface()` takes, cidr whatever `ipaddress.ip_network()` takes.
pub fn encode_inet(value: &Bound<'_, PyAny>, out: &mut Vec<u8>, cidr: bool) -> PyResult<()> {
    let py = value.py();
    let (packed, bits) = if cidr {
        let net = classes::ip_network(py)?.call1((value,))?;
        let addr = net.getattr(intern!(py, "network_address"))?;
        (
            addr.getattr(intern!(py, "packed"))?,
            net.getattr(intern!(py, "prefixlen"))?,
        )
    } else {
        let iface = classes::ip_interface(py)?.call1((value,))?;
        let net = iface.getattr(intern!(py, "network"))?;
        (
            iface.getattr(intern!(py, "packed"))?,
            net.getattr(intern!(py, "prefixlen"))?,
        )
    };
    let packed = packed
        .cast::<PyBytes>()
        .map_err(|_| PyTypeError::new_err("expected packed bytes"))?;
    let bits: u8 = bits.extract()?;
    let addr = packed.as_bytes();
    let family = match addr.len() {
        4 => PGSQL_AF_INET,
        16 => PGSQL_AF_INET6,
        _ => return Err(bad_inet("unexpected address length")),
    };
    #[allow(clippy::cast_possible_truncation)] // 4 or 16
    out.extend_from_slice(&[family, bits, u8::from(cidr), addr.len() as u8]);
    out.extend_from_slice(addr);
    Ok(())
}
