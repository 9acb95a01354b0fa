//! What an inline block may hold, parsed by kind and written back canonically, so that no text
//! from the profile reaches OpenVPN verbatim: `<ca>` and `<cert>` hold PEM certificates, `<key>`
//! one PEM private key, `<tls-auth>` and `<tls-crypt>` one OpenVPN static key. Text around PEM
//! blocks (the human-readable dump easy-rsa puts before a certificate) is what OpenSSL skips
//! too; it is left out of the canonical form.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The content an inline tag carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Material {
    Certificates,
    PrivateKey,
    StaticKey,
}

impl Material {
    pub fn of(tag: &str) -> Option<Material> {
        Some(match tag {
            "ca" | "cert" => Material::Certificates,
            "key" => Material::PrivateKey,
            "tls-auth" | "tls-crypt" => Material::StaticKey,
            _ => return None,
        })
    }

    fn accepts(self, label: &str) -> bool {
        match self {
            Material::Certificates => label == "CERTIFICATE",
            Material::PrivateKey => matches!(
                label,
                "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY" | "EC PARAMETERS"
            ),
            Material::StaticKey => label == "OpenVPN Static key V1",
        }
    }
}

/// The static key's size: 2048 bits, written as 16 lines of 32 hex digits.
const STATIC_KEY_BYTES: usize = 256;

/// The block's body in canonical form, or why it is not what the tag must hold.
pub fn canonical(material: Material, body: &[&str]) -> Result<String, String> {
    let mut blocks: Vec<(String, Vec<u8>)> = Vec::new();
    let mut open: Option<(String, String)> = None;
    for raw in body {
        let line = raw.trim_matches(|c: char| c.is_ascii_whitespace());
        if let Some((label, data)) = &mut open {
            if line == format!("-----END {label}-----") {
                let bytes = decode(material, data).ok_or_else(|| {
                    format!("the {label} in it is not valid {}", encoding(material))
                })?;
                blocks.push((std::mem::take(label), bytes));
                open = None;
            } else if line.starts_with("-----") {
                return Err(format!("the {label} in it is never ended"));
            } else if line.contains(':') {
                return Err(format!(
                    "the {label} in it has headers (an encrypted key?); Postern accepts keys without a passphrase"
                ));
            } else if line.bytes().all(|b| allowed_in(material, b)) {
                data.push_str(line);
            } else {
                return Err(format!(
                    "the {label} in it holds something that is not {}",
                    encoding(material)
                ));
            }
            continue;
        }
        if let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        {
            if label == "ENCRYPTED PRIVATE KEY" {
                return Err(
                    "it holds an encrypted key; Postern accepts keys without a passphrase".into(),
                );
            }
            if !material.accepts(label) {
                return Err(format!("it holds a {label}, which does not belong there"));
            }
            open = Some((label.to_string(), String::new()));
        } else if line.starts_with("-----") {
            return Err("it has an END line without its BEGIN".into());
        } else if material == Material::StaticKey && !(line.is_empty() || line.starts_with('#')) {
            return Err("it holds text outside the static key".into());
        }
    }
    if let Some((label, _)) = open {
        return Err(format!("the {label} in it is never ended"));
    }
    let wanted = match material {
        Material::Certificates => blocks.iter().any(|(l, _)| l == "CERTIFICATE"),
        Material::PrivateKey => {
            blocks.iter().filter(|(l, _)| l != "EC PARAMETERS").count() == 1
                && blocks.iter().filter(|(l, _)| l == "EC PARAMETERS").count() <= 1
        }
        Material::StaticKey => blocks.len() == 1,
    };
    if !wanted {
        return Err(match material {
            Material::Certificates => "it holds no PEM certificate".into(),
            Material::PrivateKey => "it must hold exactly one PEM private key".into(),
            Material::StaticKey => "it must hold exactly one OpenVPN static key".into(),
        });
    }
    let mut out = String::new();
    for (label, bytes) in &blocks {
        out.push_str(&format!("-----BEGIN {label}-----\n"));
        let text = match material {
            Material::StaticKey => hex::encode(bytes),
            _ => STANDARD.encode(bytes),
        };
        let width = if material == Material::StaticKey {
            32
        } else {
            64
        };
        for chunk in text.as_bytes().chunks(width) {
            // Both encodings are ASCII.
            out.push_str(&String::from_utf8_lossy(chunk));
            out.push('\n');
        }
        out.push_str(&format!("-----END {label}-----\n"));
    }
    Ok(out)
}

fn encoding(material: Material) -> &'static str {
    match material {
        Material::StaticKey => "hexadecimal",
        _ => "base64",
    }
}

fn allowed_in(material: Material, b: u8) -> bool {
    match material {
        Material::StaticKey => b.is_ascii_hexdigit(),
        _ => b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='),
    }
}

fn decode(material: Material, data: &str) -> Option<Vec<u8>> {
    let bytes = match material {
        Material::StaticKey => hex::decode(data).ok()?,
        _ => STANDARD.decode(data).ok()?,
    };
    let size_ok = match material {
        Material::StaticKey => bytes.len() == STATIC_KEY_BYTES,
        _ => !bytes.is_empty(),
    };
    size_ok.then_some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<&str> {
        s.lines().collect()
    }

    #[test]
    fn certificates_are_rewrapped_and_their_text_dump_dropped() {
        let body = "Certificate:\n    Data: x\n-----BEGIN CERTIFICATE-----\nTUlJQgo=\n-----END CERTIFICATE-----\n";
        assert_eq!(
            canonical(Material::Certificates, &lines(body)).unwrap(),
            "-----BEGIN CERTIFICATE-----\nTUlJQgo=\n-----END CERTIFICATE-----\n"
        );
    }

    #[test]
    fn anything_but_the_material_is_refused() {
        let cases = [
            (
                Material::Certificates,
                "plugin /x.so\n",
                "no PEM certificate",
            ),
            (
                Material::Certificates,
                "-----BEGIN CERTIFICATE-----\nplugin x\n-----END CERTIFICATE-----",
                "not base64",
            ),
            (
                Material::Certificates,
                "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----",
                "not base64",
            ),
            (
                Material::Certificates,
                "-----BEGIN CERTIFICATE-----\nTUlJQgo=\n",
                "never ended",
            ),
            (
                Material::Certificates,
                "-----BEGIN PRIVATE KEY-----\nTUlJQgo=\n-----END PRIVATE KEY-----",
                "does not belong",
            ),
            (
                Material::PrivateKey,
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nTUlJQgo=\n-----END ENCRYPTED PRIVATE KEY-----",
                "encrypted",
            ),
            (
                Material::PrivateKey,
                "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nTUlJQgo=\n-----END RSA PRIVATE KEY-----",
                "headers",
            ),
            (
                Material::PrivateKey,
                "-----BEGIN PRIVATE KEY-----\nTUlJQgo=\n-----END PRIVATE KEY-----\n-----BEGIN PRIVATE KEY-----\nTUlJQgo=\n-----END PRIVATE KEY-----",
                "exactly one",
            ),
            (
                Material::StaticKey,
                "-----BEGIN OpenVPN Static key V1-----\nabcd\n-----END OpenVPN Static key V1-----",
                "not valid hexadecimal",
            ),
            (Material::StaticKey, "remote x\n", "text outside"),
        ];
        for (material, body, why) in cases {
            let err = canonical(material, &lines(body)).unwrap_err();
            assert!(err.contains(why), "{body:?}: {err}");
        }
    }

    #[test]
    fn a_static_key_keeps_its_bytes_and_loses_its_comments() {
        let hex_lines: Vec<String> = (0..16).map(|i| format!("{:02X}", i).repeat(16)).collect();
        let body = format!(
            "#\n# 2048 bit OpenVPN static key\n#\n-----BEGIN OpenVPN Static key V1-----\n{}\n-----END OpenVPN Static key V1-----\n",
            hex_lines.join("\n")
        );
        let out = canonical(Material::StaticKey, &lines(&body)).unwrap();
        assert!(out.starts_with("-----BEGIN OpenVPN Static key V1-----\n0000"));
        assert_eq!(out.lines().count(), 18);
        assert!(!out.contains('#'));
    }
}
