//! Server configuration: bind address and API keys, from the command line (`--keys devkey:secret`, LiveKit's
//! development convention) or a TOML file.
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;

/// Why a configuration was refused.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `--keys` is not `key:secret[,key:secret…]`.
    #[error("API keys must be given as key:secret pairs separated by commas, got \"{0}\"")]
    KeyPair(String),
    /// A secret is too short to sign tokens safely.
    #[error("the secret of API key \"{0}\" is empty")]
    EmptySecret(String),
    /// No API key at all: nobody could join.
    #[error("at least one API key is needed")]
    NoKeys,
    /// The bind address does not parse.
    #[error("invalid bind address \"{0}\"")]
    Bind(String),
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// A webhook URL is not http(s).
    #[error("webhook URL \"{0}\" must start with http:// or https://")]
    WebhookUrl(String),
    /// Webhooks are signed with an API key the server does not have.
    #[error("webhook API key \"{0}\" is not one of the server's keys")]
    WebhookKey(String),
    /// The file is not valid TOML of the expected shape.
    #[error("invalid configuration file: {0}")]
    Parse(String),
}

/// Everything the server needs to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Where the HTTP/WebSocket listener binds (port 0 picks a free one).
    pub bind: SocketAddr,
    /// API key → secret.
    pub keys: HashMap<String, String>,
    /// Where to post webhooks, signed with which key.
    pub webhook: Option<Webhooks>,
    /// How long a participant whose signalling connection dropped stays in its room, waiting for its client
    /// to resume (LiveKit: 15 s). Its media keeps flowing meanwhile.
    pub resume_window: Duration,
    /// The media address clients are told, per bound socket (a NAT's public side, a test's impairment
    /// relay); none: the bound address.
    pub advertise: Option<crate::peer::AddressMap>,
}

/// LiveKit's: "If you terminate the application without calling disconnect(), your participant disappears
/// after 15 seconds."
pub const DEFAULT_RESUME_WINDOW: Duration = Duration::from_secs(15);

/// Webhook endpoints and the API key that signs them (LiveKit's `webhook:` section).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhooks {
    /// Endpoints.
    pub urls: Vec<String>,
    /// Which API key signs; the only key when there is one.
    pub api_key: Option<String>,
}

/// The file form:
/// ```toml
/// bind = "127.0.0.1:7880"
/// [keys]
/// devkey = "secret"
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    bind: Option<String>,
    #[serde(default)]
    keys: HashMap<String, String>,
    webhook: Option<Webhooks>,
}

/// LiveKit's default development port, on loopback only.
pub const DEFAULT_BIND: &str = "127.0.0.1:7880";

impl ServerConfig {
    /// From `--bind` and `--keys` values.
    pub fn from_args(bind: &str, keys: &str) -> Result<Self, ConfigError> {
        Self::build(bind, parse_keys(keys)?)
    }

    /// From a TOML file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        Self::from_toml(&text)
    }

    /// From TOML text.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let file: FileConfig = toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        let config = Self::build(file.bind.as_deref().unwrap_or(DEFAULT_BIND), file.keys)?;
        match file.webhook {
            Some(w) => config.with_webhooks(w.urls, w.api_key),
            None => Ok(config),
        }
    }

    /// Posts webhooks to `urls`, signed with `api_key` (default: the only key, else the first by name).
    pub fn with_webhooks(mut self, urls: Vec<String>, api_key: Option<String>) -> Result<Self, ConfigError> {
        if let Some(bad) = urls.iter().find(|u| !(u.starts_with("http://") || u.starts_with("https://"))) {
            return Err(ConfigError::WebhookUrl(bad.clone()));
        }
        if let Some(key) = &api_key {
            if !self.keys.contains_key(key) {
                return Err(ConfigError::WebhookKey(key.clone()));
            }
        }
        self.webhook = if urls.is_empty() { None } else { Some(Webhooks { urls, api_key }) };
        Ok(self)
    }

    /// The webhook settings with the signing key resolved.
    pub fn webhook_config(&self) -> Option<crate::webhook::WebhookConfig> {
        let w = self.webhook.as_ref()?;
        let api_key = match &w.api_key {
            Some(k) => k.clone(),
            None => self.keys.keys().min()?.clone(),
        };
        let api_secret = self.keys.get(&api_key)?.clone();
        Some(crate::webhook::WebhookConfig { urls: w.urls.clone(), api_key, api_secret })
    }

    fn build(bind: &str, keys: HashMap<String, String>) -> Result<Self, ConfigError> {
        if keys.is_empty() {
            return Err(ConfigError::NoKeys);
        }
        if let Some((key, _)) = keys.iter().find(|(_, secret)| secret.is_empty()) {
            return Err(ConfigError::EmptySecret(key.clone()));
        }
        let bind = bind.parse().map_err(|_| ConfigError::Bind(bind.to_string()))?;
        Ok(Self { bind, keys, webhook: None, resume_window: DEFAULT_RESUME_WINDOW, advertise: None })
    }
}

fn parse_keys(text: &str) -> Result<HashMap<String, String>, ConfigError> {
    text.split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once(':') {
            Some((key, secret)) if !key.trim().is_empty() => {
                Ok((key.trim().to_string(), secret.trim().to_string()))
            }
            _ => Err(ConfigError::KeyPair(pair.to_string())),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_keys() {
        let c = ServerConfig::from_args("127.0.0.1:0", "devkey:secret, other:s2").unwrap();
        assert_eq!(c.keys.get("devkey").map(String::as_str), Some("secret"));
        assert_eq!(c.keys.len(), 2);
        assert!(matches!(ServerConfig::from_args("127.0.0.1:0", "devkey"), Err(ConfigError::KeyPair(_))));
        assert!(matches!(
            ServerConfig::from_args("127.0.0.1:0", "devkey:"),
            Err(ConfigError::EmptySecret(_))
        ));
        assert!(matches!(ServerConfig::from_args("127.0.0.1:0", ""), Err(ConfigError::NoKeys)));
        assert!(matches!(ServerConfig::from_args("localhost", "a:b"), Err(ConfigError::Bind(_))));
    }

    #[test]
    fn toml_file() {
        let c = ServerConfig::from_toml("bind = \"127.0.0.1:7999\"\n[keys]\ndevkey = \"secret\"\n").unwrap();
        assert_eq!(c.bind.port(), 7999);
        let default_bind = ServerConfig::from_toml("[keys]\nk = \"s\"\n").unwrap();
        assert_eq!(default_bind.bind.to_string(), DEFAULT_BIND);
        assert!(matches!(ServerConfig::from_toml("bnd = 1"), Err(ConfigError::Parse(_))));
        assert!(matches!(ServerConfig::from_toml("[keys]\n"), Err(ConfigError::NoKeys)));
    }

    #[test]
    fn webhooks() {
        let c = ServerConfig::from_toml(
            "[keys]\ndevkey = \"secret\"\n[webhook]\nurls = [\"http://127.0.0.1:9/hook\"]\n",
        )
        .unwrap();
        let w = c.webhook_config().unwrap();
        assert_eq!((w.api_key.as_str(), w.api_secret.as_str()), ("devkey", "secret"));
        assert!(matches!(
            ServerConfig::from_args("127.0.0.1:0", "a:b")
                .unwrap()
                .with_webhooks(vec!["ftp://x".into()], None),
            Err(ConfigError::WebhookUrl(_))
        ));
        assert!(matches!(
            ServerConfig::from_args("127.0.0.1:0", "a:b")
                .unwrap()
                .with_webhooks(vec!["http://x".into()], Some("z".into())),
            Err(ConfigError::WebhookKey(_))
        ));
    }
}
