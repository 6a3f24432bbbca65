//! The base URL (`--url`) and webhook URLs: checked once, shown without secrets.

use sidecar::Failure;

/// Checks and normalises `--url`: http(s), no credentials, no trailing slash.
pub fn normalize_base_url(url: &str) -> Result<String, Failure> {
    normalize_base_url_as(url, "--url")
}

/// [`normalize_base_url`] for a URL given by another flag (`flag` names it in the messages).
pub fn normalize_base_url_as(url: &str, flag: &str) -> Result<String, Failure> {
    let url = url.trim();
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| {
            Failure::usage(format!(
                "{flag} {:?}: use the Rocket.Chat base URL, e.g. http://rocketchat:3000",
                sidecar::secret::redact_userinfo(url)
            ))
        })?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    // Any '@' counts: `user:pa/ss@rc` has its '@' after the first '/'.
    if host.is_empty() || rest.contains('@') {
        return Err(Failure::usage(format!(
            "{flag} {:?}: give scheme://host[:port][/path] without credentials (credentials go in the *_FILE secrets)",
            sidecar::secret::redact_userinfo(url)
        )));
    }
    if rest.contains(['?', '#']) {
        return Err(Failure::usage(format!(
            "{flag} {:?}: no query or fragment, just the base URL",
            sidecar::secret::redact_userinfo(url)
        )));
    }
    sidecar::host::check_authority(host).map_err(|why| Failure::usage(format!("{flag}: {why}")))?;
    Ok(url.trim_end_matches('/').to_string())
}

/// What the watchdog's timeout line says a run against Rocket.Chat at `url` waits for. The URL
/// is not yet checked for credentials when this runs, so it is shown redacted.
pub fn waiting_for(url: &str) {
    sidecar::watchdog::waiting_for(format!(
        "Rocket.Chat at {}",
        sidecar::secret::redact_userinfo(url.trim())
    ));
}

/// The `userId` segment of the info route: ignored by integrationInfoRest.
const INFO_USER_SEGMENT: &str = "probe";

/// `<root>/hooks/<id>/<token>` → (`<root>/hooks/info/<id>/probe/<token>`, a printable form with
/// the token masked).
pub fn webhook_info_url(hook_url: &str) -> Option<(String, String)> {
    let hook_url = hook_url.trim();
    let pos = hook_url.rfind("/hooks/")?;
    let (root, rest) = (&hook_url[..pos], &hook_url[pos + "/hooks/".len()..]);
    let mut parts = rest.split('/');
    let (id, token) = (parts.next()?, parts.next()?);
    if id.is_empty() || token.is_empty() || parts.next().is_some() || !root.contains("://") {
        return None;
    }
    Some((
        format!("{root}/hooks/info/{id}/{INFO_USER_SEGMENT}/{token}"),
        format!("/hooks/info/{id}/{INFO_USER_SEGMENT}/{}", "***"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_checked() {
        assert_eq!(
            normalize_base_url("http://rc:3000/").unwrap(),
            "http://rc:3000"
        );
        assert_eq!(
            normalize_base_url("https://chat.example/sub").unwrap(),
            "https://chat.example/sub"
        );
        assert!(normalize_base_url("rc:3000").is_err());
        let creds = normalize_base_url("http://u:pw@rc").unwrap_err();
        assert!(!creds.message.contains("pw"), "{}", creds.message);
        for url in ["http://u:p/w@rc", "http://u:p?w@rc", "http://u:p#w@rc"] {
            let e = normalize_base_url(url).unwrap_err();
            assert!(
                !e.message.contains("p/w")
                    && !e.message.contains("p?w")
                    && !e.message.contains("p#w"),
                "{}",
                e.message
            );
        }
        assert!(normalize_base_url("http://").is_err());
    }

    #[test]
    fn webhook_info_url_and_masking() {
        let (url, shown) =
            webhook_info_url("https://chat.example/hooks/abc123/tok3nSECRETvalue").unwrap();
        assert_eq!(
            url,
            "https://chat.example/hooks/info/abc123/probe/tok3nSECRETvalue"
        );
        assert_eq!(shown, "/hooks/info/abc123/probe/***");
        assert!(webhook_info_url("https://chat.example/api/v1/x").is_none());
        assert!(webhook_info_url("https://chat.example/hooks/abc").is_none());
    }
}
