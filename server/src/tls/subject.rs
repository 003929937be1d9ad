//! A certificate's subject as the `x509` id: the RFC 2253 string Java's
//! `X500Principal.getName()` gives, which is what ZooKeeper's X509AuthenticationProvider
//! uses. ACLs written for ZooKeeper (`x509:CN=client,O=Acme`) must keep matching, so
//! the rendering follows Java's exactly: last RDN first, Java's keywords, its escapes,
//! and `OID=#hex` for everything else.

use x509_parser::der_parser::asn1_rs::{Tag, ToDer};
use x509_parser::prelude::{AttributeTypeAndValue, FromDer, X509Certificate};

/// The subject of the DER certificate `der`, or `None` if it does not parse.
pub fn subject_name(der: &[u8]) -> Option<String> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let rdns: Vec<String> = cert
        .subject()
        .iter_rdn()
        .map(|rdn| {
            rdn.iter()
                .map(ava)
                .collect::<Option<Vec<_>>>()
                .map(|v| v.join("+"))
        })
        .collect::<Option<_>>()?;
    Some(rdns.into_iter().rev().collect::<Vec<_>>().join(","))
}

/// Java's RFC 2253 keywords (`AVAKeyword` with RFC 2253 compliance).
fn keyword(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.9" => "STREET",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        _ => return None,
    })
}

/// The value as text, for the string types Java renders as text.
fn text(value: &x509_parser::der_parser::asn1_rs::Any<'_>) -> Option<String> {
    let data = value.data;
    match value.tag() {
        Tag::PrintableString | Tag::Ia5String | Tag::Utf8String | Tag::GeneralString => {
            std::str::from_utf8(data).ok().map(str::to_owned)
        }
        // Teletex: Java reads it as ISO-8859-1.
        Tag::T61String => Some(data.iter().map(|&b| char::from(b)).collect()),
        Tag::BmpString => {
            if !data.len().is_multiple_of(2) {
                return None;
            }
            let units = data
                .chunks_exact(2)
                .map(|p| u16::from_be_bytes([p[0], p[1]]));
            char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .ok()
        }
        _ => None,
    }
}

fn ava(ava: &AttributeTypeAndValue<'_>) -> Option<String> {
    let oid = ava.attr_type().to_id_string();
    let value = ava.attr_value();
    match (keyword(&oid), text(value)) {
        (Some(keyword), Some(text)) => Some(format!("{keyword}={}", escape(&text))),
        // An unknown attribute, or a value that is not a string: its DER encoding.
        (keyword, _) => {
            let der = value.to_der_vec().ok()?;
            let hex: String = der.iter().map(|b| format!("{b:02x}")).collect();
            Some(format!("{}=#{hex}", keyword.map_or(oid.as_str(), |k| k)))
        }
    }
}

/// Java's escaping: the special characters everywhere, NUL as `\00`, and leading and
/// trailing spaces (and carriage returns).
fn escape(value: &str) -> String {
    const SPECIAL: &str = ",=+<>#;\"\\";
    let mut escaped: Vec<char> = Vec::with_capacity(value.len());
    for c in value.chars() {
        if SPECIAL.contains(c) {
            escaped.push('\\');
            escaped.push(c);
        } else if c == '\0' {
            escaped.extend(['\\', '0', '0']);
        } else {
            escaped.push(c);
        }
    }
    let blank = |c: &char| *c == ' ' || *c == '\r';
    let lead = escaped.iter().take_while(|c| blank(c)).count();
    let trail = escaped.len() - escaped.iter().rev().take_while(|c| blank(c)).count();
    let mut out = String::with_capacity(escaped.len() + 4);
    for (i, c) in escaped.into_iter().enumerate() {
        if i < lead || i >= trail {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    #[test]
    fn matches_javas_rendering() {
        // Printed by Java 17's X500Principal.getName() for this certificate (see
        // testdata/README.md): reversed RDNs, a multi-valued RDN, every escape, an
        // email address as #hex, and a trailing space.
        let pem = include_bytes!("testdata/odd-subject.pem");
        let der = CertificateDer::from_pem_slice(pem).expect("fixture");
        assert_eq!(
            subject_name(&der).as_deref(),
            Some(
                "CN=Zoë\\ ,UID=u1,DC=example,1.2.840.113549.1.9.1=#16056140622e63,\
                 CN=\\ client \\#1\\;x\\=y \\\"q\\\" \\\\\\ ,OU=R&D+O=Acme\\, Inc.,C=DE"
            )
        );
    }

    #[test]
    fn garbage_is_none() {
        assert_eq!(subject_name(b"not a certificate"), None);
        assert_eq!(subject_name(&[]), None);
    }

    #[test]
    fn escapes() {
        assert_eq!(escape("a"), "a");
        assert_eq!(escape("  a b "), "\\ \\ a b\\ ");
        assert_eq!(escape("\0#"), "\\00\\#");
        assert_eq!(escape("   "), "\\ \\ \\ ");
    }
}
