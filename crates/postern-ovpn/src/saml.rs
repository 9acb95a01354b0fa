//! AWS Client VPN's SAML retry: the CRV1 password that carries the IdP's assertion.

/// The password of the retry, as the AWS client sends it: the assertion URL-quoted.
pub fn crv1_password(state_id: &str, assertion: &str) -> String {
    let quoted: String = form_urlencoded::byte_serialize(assertion.as_bytes()).collect();
    format!("CRV1::{state_id}::{quoted}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crv1_password_quotes_the_assertion() {
        assert_eq!(crv1_password("st:1", "a+b/c="), "CRV1::st:1::a%2Bb%2Fc%3D");
    }
}
