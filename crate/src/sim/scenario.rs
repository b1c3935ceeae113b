//! Scenario files for `meganet simulate`: TOML, every field required
//! except the node loss, each checked before a run with an error that
//! names the field and why.

use serde::Deserialize;

use super::{BrowserChurn, Setup};

/// Most holders (browsers and nodes) and files one run may model: a run
/// keeps a few dozen bytes per holder and per shard.
pub const MAX_HOLDERS: usize = 10_000_000;
pub const MAX_SHARDS: usize = 100_000_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    seed: u64,
    days: f64,
    files: usize,
    interval_minutes: f64,
    code: Code,
    audits: Audits,
    browsers: Browsers,
    nodes: Nodes,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Code {
    k: usize,
    n: usize,
    threshold: usize,
    lost_after_minutes: f64,
    shards_on_nodes: usize,
    browser_copies: bool,
    prefer_available: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Audits {
    every_hours: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Browsers {
    count: usize,
    session_median_minutes: f64,
    session_shape: f64,
    return_within_day: f64,
    lifetime_days: f64,
    persistent_share: f64,
    paused_share: f64,
    quota_shards: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Nodes {
    count: usize,
    lifetime_days: f64,
    loss_day: Option<f64>,
    loss_share: Option<f64>,
}

/// Parses and checks a scenario.
pub fn parse(text: &str) -> Result<Setup, String> {
    let f: File = toml::from_str(text).map_err(|e| format!("scenario: {e}"))?;
    positive("days", f.days)?;
    positive("interval_minutes", f.interval_minutes)?;
    positive("code.lost_after_minutes", f.code.lost_after_minutes)?;
    positive("audits.every_hours", f.audits.every_hours)?;
    if f.audits.every_hours > f.days * 24.0 {
        return Err(format!(
            "audits.every_hours: {} is longer than the run's {} days",
            f.audits.every_hours, f.days
        ));
    }
    positive(
        "browsers.session_median_minutes",
        f.browsers.session_median_minutes,
    )?;
    positive("browsers.session_shape", f.browsers.session_shape)?;
    positive("browsers.lifetime_days", f.browsers.lifetime_days)?;
    positive("nodes.lifetime_days", f.nodes.lifetime_days)?;
    share("browsers.return_within_day", f.browsers.return_within_day)?;
    share("browsers.persistent_share", f.browsers.persistent_share)?;
    share("browsers.paused_share", f.browsers.paused_share)?;
    let Code { k, n, .. } = f.code;
    if k == 0 || n < k || n > 64 {
        return Err(format!(
            "code.k and code.n: need 1 <= k <= n <= 64, got k = {k}, n = {n}"
        ));
    }
    if f.code.threshold > n {
        return Err(format!(
            "code.threshold: {} is more than n = {n}",
            f.code.threshold
        ));
    }
    if f.code.shards_on_nodes > n {
        return Err(format!(
            "code.shards_on_nodes: {} is more than n = {n}",
            f.code.shards_on_nodes
        ));
    }
    if f.nodes.count == 0 && f.browsers.count == 0 {
        return Err("nodes.count and browsers.count: a network needs holders".into());
    }
    if f.nodes.count + f.browsers.count > MAX_HOLDERS {
        return Err(format!("browsers.count and nodes.count: more than {MAX_HOLDERS} holders would not fit in memory"));
    }
    if f.files.saturating_mul(n) > MAX_SHARDS {
        return Err(format!(
            "files: {} files of {n} shards is more than {MAX_SHARDS} shards",
            f.files
        ));
    }
    let node_loss = match (f.nodes.loss_day, f.nodes.loss_share) {
        (None, None) => None,
        (Some(day), Some(s)) => {
            share("nodes.loss_share", s)?;
            if !(0.0..=f.days).contains(&day) {
                return Err(format!(
                    "nodes.loss_day: {day} is outside the run's {} days",
                    f.days
                ));
            }
            Some((day, s))
        }
        _ => return Err("nodes.loss_day and nodes.loss_share: give both or neither".into()),
    };
    Ok(Setup {
        seed: f.seed,
        days: f.days,
        browsers: f.browsers.count,
        nodes: f.nodes.count,
        files: f.files,
        k,
        n,
        threshold: f.code.threshold,
        lost_after_minutes: f.code.lost_after_minutes,
        interval_minutes: f.interval_minutes,
        shards_on_nodes: f.code.shards_on_nodes,
        browser_copies: f.code.browser_copies,
        prefer_available: f.code.prefer_available,
        audit_every_hours: f.audits.every_hours,
        browser_churn: Some(BrowserChurn {
            session_median_minutes: f.browsers.session_median_minutes,
            session_shape: f.browsers.session_shape,
            return_within_day: f.browsers.return_within_day,
            lifetime_days: f.browsers.lifetime_days,
            persistent_share: f.browsers.persistent_share,
            paused_share: f.browsers.paused_share,
            quota_shards: f.browsers.quota_shards,
        }),
        node_lifetime_days: Some(f.nodes.lifetime_days),
        node_loss,
        kill_file0: None,
    })
}

fn positive(field: &str, value: f64) -> Result<(), String> {
    match value.is_finite() && value > 0.0 {
        true => Ok(()),
        false => Err(format!("{field}: must be a positive number, got {value}")),
    }
}

fn share(field: &str, value: f64) -> Result<(), String> {
    match (0.0..=1.0).contains(&value) {
        true => Ok(()),
        false => Err(format!("{field}: must be between 0 and 1, got {value}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = include_str!("../../../scenarios/browsers-and-nodes.toml");

    #[test]
    fn the_checked_in_scenarios_parse() {
        for text in [
            GOOD,
            include_str!("../../../scenarios/browsers-only.toml"),
            include_str!("../../../scenarios/node-loss.toml"),
            include_str!("../../../scenarios/bench-small.toml"),
        ] {
            parse(text).unwrap();
        }
    }

    #[test]
    fn bad_scenarios_name_the_field_and_the_reason() {
        for (from, to, why) in [
            ("k = 4", "k = 9", "code.k and code.n"),
            (
                "session_median_minutes = 30",
                "session_median_minutes = 0",
                "browsers.session_median_minutes: must be a positive",
            ),
            (
                "lifetime_days = 7",
                "lifetime_days = -7",
                "browsers.lifetime_days",
            ),
            (
                "return_within_day = 0.6",
                "return_within_day = 1.5",
                "browsers.return_within_day: must be between 0 and 1",
            ),
            (
                "count = 100000",
                "count = 100000000",
                "would not fit in memory",
            ),
            ("threshold = 6", "", "missing field `threshold`"),
            (
                "every_hours = 24",
                "every_hours = 1e300",
                "is longer than the run's 30 days",
            ),
        ] {
            assert!(GOOD.contains(from), "{from}");
            let err = parse(&GOOD.replacen(from, to, 1)).unwrap_err();
            assert!(err.contains(why), "{from} -> {to}: {err}");
        }
    }
}
