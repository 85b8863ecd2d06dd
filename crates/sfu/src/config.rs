//! Server configuration: bind address and API keys, from the command line (`--keys devkey:secret`, LiveKit's
//! development convention) or a TOML file.
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;

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
        Self::build(file.bind.as_deref().unwrap_or(DEFAULT_BIND), file.keys)
    }

    fn build(bind: &str, keys: HashMap<String, String>) -> Result<Self, ConfigError> {
        if keys.is_empty() {
            return Err(ConfigError::NoKeys);
        }
        if let Some((key, _)) = keys.iter().find(|(_, secret)| secret.is_empty()) {
            return Err(ConfigError::EmptySecret(key.clone()));
        }
        let bind = bind.parse().map_err(|_| ConfigError::Bind(bind.to_string()))?;
        Ok(Self { bind, keys })
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
}
