//! Why the policy decided what it did: one [`Reason`] per condition that
//! holds, each with a stable machine code, a plain-language message and its
//! effect on the decision.

use serde::ser::{Serialize, SerializeStruct, Serializer};

use super::{
    EffectiveType, BATTERY_CAP, BUSY_CAP, FREE_DIVISOR_BEST_EFFORT, LOW_BATTERY_PERCENT,
    METERED_CAP, TRICKLE_CAP,
};

/// One condition behind a [`super::Decision`]. Serializes as
/// `{code, message}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    NotOptedIn,
    /// The user offered no space.
    NoQuota,
    /// Holding `used` bytes for others, the effective limit is `limit`.
    StorageFull {
        used: u64,
        limit: u64,
    },
    /// The browser's free space lowered the user's quota to `limit`.
    StorageLimited {
        limit: u64,
    },
    /// No storage estimate: the user's quota is the only limit.
    StorageUnknown,
    /// Storage may be cleared by the browser: a smaller share is offered.
    NotPersisted,
    /// Visible, with input in the last minute.
    TabInUse,
    /// Visible, activity not tracked: treated as in use.
    IdleUnknown,
    /// Discharging, above the level that pauses new data.
    OnBattery {
        percent: u8,
    },
    /// Discharging, at or below the level that pauses new data.
    BatteryLow {
        percent: u8,
    },
    /// No Battery Status API: treated as plugged in.
    BatteryUnknown,
    SaveData,
    Metered,
    SlowNetwork {
        effective_type: EffectiveType,
    },
    /// No Network Information API: treated as unmetered.
    NetworkUnknown,
}

impl Reason {
    /// A stable identifier, for code and tests; never reworded.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotOptedIn => "not-opted-in",
            Self::NoQuota => "no-quota",
            Self::StorageFull { .. } => "storage-full",
            Self::StorageLimited { .. } => "storage-limited",
            Self::StorageUnknown => "storage-unknown",
            Self::NotPersisted => "not-persisted",
            Self::TabInUse => "tab-in-use",
            Self::IdleUnknown => "idle-unknown",
            Self::OnBattery { .. } => "on-battery",
            Self::BatteryLow { .. } => "battery-low",
            Self::BatteryUnknown => "battery-unknown",
            Self::SaveData => "save-data",
            Self::Metered => "metered",
            Self::SlowNetwork { .. } => "slow-network",
            Self::NetworkUnknown => "network-unknown",
        }
    }

    /// What to show the user.
    pub fn message(&self) -> String {
        match self {
            Self::NotOptedIn => "not opted in: nothing is stored or served for others".into(),
            Self::NoQuota => "paused: no space offered (the quota is 0)".into(),
            Self::StorageFull { used, limit } => format!(
                "storage full: holding {} of {}",
                bytes(*used),
                bytes(*limit)
            ),
            Self::StorageLimited { limit } => {
                format!("little free space on this device: offering at most {}", bytes(*limit))
            }
            Self::StorageUnknown => "free space unknown: the quota is the only limit".into(),
            Self::NotPersisted => format!(
                "the browser may clear this site's storage: offering at most 1/{FREE_DIVISOR_BEST_EFFORT} of free space"
            ),
            Self::TabInUse => "paused: tab is in use".into(),
            Self::IdleUnknown => "paused: tab is visible and activity is unknown".into(),
            Self::OnBattery { percent } => {
                format!("on battery ({percent}%): serving slowed, repair waits for a charger")
            }
            Self::BatteryLow { percent } => format!("paused: on battery ({percent}%)"),
            Self::BatteryUnknown => "battery status unknown: assuming plugged in".into(),
            Self::SaveData => "paused: data saver is on".into(),
            Self::Metered => "paused: cellular or metered connection".into(),
            Self::SlowNetwork { effective_type } => {
                format!("paused: slow connection ({})", effective_type.as_str())
            }
            Self::NetworkUnknown => "connection type unknown: assuming unmetered".into(),
        }
    }

    /// Stops new data from being accepted.
    pub fn pauses_new_data(&self) -> bool {
        matches!(
            self,
            Self::NotOptedIn
                | Self::NoQuota
                | Self::StorageFull { .. }
                | Self::TabInUse
                | Self::IdleUnknown
                | Self::BatteryLow { .. }
                | Self::SaveData
                | Self::Metered
                | Self::SlowNetwork { .. }
        )
    }

    /// Stops background work (repair). Storage does not: repair sends what
    /// it rebuilds to other peers.
    pub fn pauses_background(&self) -> bool {
        matches!(
            self,
            Self::NotOptedIn
                | Self::TabInUse
                | Self::IdleUnknown
                | Self::OnBattery { .. }
                | Self::BatteryLow { .. }
                | Self::SaveData
                | Self::Metered
                | Self::SlowNetwork { .. }
        )
    }

    /// Stops serving altogether.
    pub fn stops_serving(&self) -> bool {
        matches!(self, Self::NotOptedIn)
    }

    /// The serving cap this condition imposes, in bytes per second.
    pub fn serving_cap(&self) -> Option<u64> {
        match self {
            Self::TabInUse | Self::IdleUnknown => Some(BUSY_CAP),
            Self::OnBattery { .. } => Some(BATTERY_CAP),
            Self::BatteryLow { percent } if *percent <= LOW_BATTERY_PERCENT => Some(TRICKLE_CAP),
            Self::BatteryLow { .. } => Some(BATTERY_CAP),
            Self::Metered => Some(METERED_CAP),
            Self::SaveData | Self::SlowNetwork { .. } => Some(TRICKLE_CAP),
            _ => None,
        }
    }

    /// Changes nothing; says what was assumed or how a limit was derived.
    pub fn is_informative(&self) -> bool {
        !self.pauses_new_data()
            && !self.pauses_background()
            && !self.stops_serving()
            && self.serving_cap().is_none()
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Reason", 3)?;
        s.serialize_field("code", self.code())?;
        s.serialize_field("message", &self.message())?;
        // The page heads its status line with a reason that pauses new
        // data: it reads this flag rather than keeping its own list.
        s.serialize_field("pausesNewData", &self.pauses_new_data())?;
        s.end()
    }
}

/// A byte count the way people read it: "512 B", "1.5 MiB".
fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::bytes;

    #[test]
    fn bytes_read_naturally() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1024), "1.0 KiB");
        assert_eq!(bytes(1536 * 1024), "1.5 MiB");
        assert_eq!(bytes(1 << 30), "1.0 GiB");
        assert_eq!(bytes(u64::MAX), "16384.0 PiB");
    }
}
