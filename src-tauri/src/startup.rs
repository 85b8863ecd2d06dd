//! What the command line asks of the app at launch: join a meeting at once (`--url URL --token TOKEN`) and
//! quit after a while (`--quit-after SECONDS`, for measurements and demos). The token is never logged.
use std::time::Duration;

use crate::meeting::JoinTarget;

/// The value after `name` on the command line, if `name` is there (empty when nothing follows it).
pub fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).map(|i| args.get(i + 1).cloned().unwrap_or_default())
}

/// Launch options.
#[derive(Default)]
pub struct Startup {
    /// A meeting to join at once (taken by the window when it starts).
    pub join: std::sync::Mutex<Option<JoinTarget>>,
    /// Quit after this long.
    pub quit_after: Option<Duration>,
}

impl std::fmt::Debug for Startup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Startup").field("quit_after", &self.quit_after).finish_non_exhaustive()
    }
}

/// Why the command line cannot be followed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StartupError {
    /// `--url` without `--token`, or the other way round.
    #[error("--url and --token go together")]
    Incomplete,
    /// Not a number of seconds.
    #[error("--quit-after takes a number of seconds, not {0:?}")]
    QuitAfter(String),
}

impl Startup {
    /// Reads the launch options.
    pub fn from_args(args: &[String]) -> Result<Self, StartupError> {
        let join = match (flag(args, "--url"), flag(args, "--token")) {
            (Some(url), Some(token)) if !url.is_empty() && !token.is_empty() => {
                Some(JoinTarget::Server { url, token })
            }
            (None, None) => None,
            _ => return Err(StartupError::Incomplete),
        };
        let quit_after = match flag(args, "--quit-after") {
            None => None,
            Some(s) => Some(
                s.parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s > 0.0)
                    .map(Duration::from_secs_f64)
                    .ok_or(StartupError::QuitAfter(s))?,
            ),
        };
        Ok(Self { join: std::sync::Mutex::new(join), quit_after })
    }
}

/// A command line written as one string (tests).
#[cfg(test)]
pub(crate) fn args(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_meeting_to_join_and_a_time_to_quit() {
        let startup =
            Startup::from_args(&args("colloque --url ws://h:7880 --token T0K --quit-after 2.5")).unwrap();
        assert!(matches!(
            startup.join.lock().unwrap().as_ref(),
            Some(JoinTarget::Server { url, token }) if url == "ws://h:7880" && token == "T0K"
        ));
        assert_eq!(startup.quit_after, Some(Duration::from_millis(2500)));
        assert!(!format!("{startup:?}").contains("T0K"), "no token in logs");
        let plain = Startup::from_args(&args("colloque")).unwrap();
        assert!(plain.join.lock().unwrap().is_none() && plain.quit_after.is_none());
    }

    #[test]
    fn half_a_join_or_a_bad_duration_is_refused() {
        assert_eq!(Startup::from_args(&args("colloque --url ws://h")).unwrap_err(), StartupError::Incomplete);
        assert_eq!(Startup::from_args(&args("colloque --token")).unwrap_err(), StartupError::Incomplete);
        assert_eq!(
            Startup::from_args(&args("colloque --quit-after soon")).unwrap_err(),
            StartupError::QuitAfter("soon".into())
        );
    }
}
