//! The policy's inputs, shaped so the page can pass one plain object
//! (camelCase fields, `null` for an API the browser lacks).

use serde::{Deserialize, Serialize};

/// Everything [`super::decide`] looks at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Signals {
    /// The user chose to contribute.
    pub opted_in: bool,
    /// Bytes the user offered for others' data.
    pub quota_bytes: u64,
    /// Bytes of others' data this peer holds now.
    pub used_contributed_bytes: u64,
    pub visibility: Visibility,
    /// No input for [`super::IDLE_AFTER_MS`]; `None` when unknown.
    #[serde(default)]
    pub idle: Option<bool>,
    /// `None` without the Battery Status API (Firefox, Safari).
    #[serde(default)]
    pub battery: Option<Battery>,
    /// `None` without the Network Information API (Firefox, Safari).
    #[serde(default)]
    pub network: Option<Network>,
    /// `navigator.storage.estimate()`, for this origin.
    #[serde(default)]
    pub storage_estimate: Option<StorageEstimate>,
    /// `navigator.storage.persisted()`.
    #[serde(default)]
    pub persisted: Option<bool>,
}

/// `document.visibilityState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    Visible,
    Hidden,
}

/// From `navigator.getBattery()`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Battery {
    pub charging: bool,
    /// 0 (empty) to 1 (full).
    pub level: f64,
}

impl Battery {
    /// The level as the whole percent the user would see; out-of-range or
    /// non-numeric levels are clamped (NaN reads as empty).
    pub fn percent(&self) -> u8 {
        if self.level.is_nan() {
            return 0;
        }
        (self.level.clamp(0.0, 1.0) * 100.0).round() as u8
    }
}

/// From `navigator.connection`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Network {
    /// The user asked sites to use less data.
    pub save_data: bool,
    /// `type == "cellular"`, or the connection reports itself metered.
    pub metered_or_cellular: bool,
    pub effective_type: EffectiveType,
}

/// `navigator.connection.effectiveType`: the measured speed class, not the
/// physical link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EffectiveType {
    #[serde(rename = "slow-2g")]
    Slow2g,
    #[serde(rename = "2g")]
    G2,
    #[serde(rename = "3g")]
    G3,
    #[serde(rename = "4g")]
    G4,
}

impl EffectiveType {
    /// The name the browser uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Slow2g => "slow-2g",
            Self::G2 => "2g",
            Self::G3 => "3g",
            Self::G4 => "4g",
        }
    }

    /// Too slow to take on new data: a 4 MiB shard would hold the link for
    /// minutes.
    pub fn is_slow(self) -> bool {
        matches!(self, Self::Slow2g | Self::G2)
    }
}

/// `navigator.storage.estimate()`: origin-wide, and rounded by browsers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageEstimate {
    pub quota: u64,
    pub usage: u64,
}
