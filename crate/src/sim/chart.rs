//! The run as an SVG chart over time: the share of files readable at each
//! check (left axis) and repair uploads so far per shard stored (right).

use std::fmt::Write as _;

use super::{Report, Sample};

const W: f64 = 720.0;
const H: f64 = 320.0;
const PAD: f64 = 48.0;

/// An SVG document of `report`'s series, titled `title`.
pub fn svg(report: &Report, title: &str) -> String {
    let series = &report.series;
    let days = series.last().map_or(1.0, |p| p.0).max(1e-9);
    let low = series.iter().map(|p| p.1).fold(1.0f64, f64::min).min(0.99);
    let top = series.iter().map(|p| p.2).fold(0.0f64, f64::max).max(1e-9);
    let x = |d: f64| PAD + d / days * (W - 2.0 * PAD);
    let y_avail = |a: f64| PAD + (1.0 - (a - low) / (1.0 - low)) * (H - 2.0 * PAD);
    let y_repair = |r: f64| PAD + (1.0 - r / top) * (H - 2.0 * PAD);
    let line = |f: &dyn Fn(&Sample) -> (f64, f64)| {
        series.iter().fold(String::new(), |mut out, p| {
            let (px, py) = f(p);
            let _ = write!(out, "{px:.1},{py:.1} ");
            out
        })
    };
    let avail = line(&|p| (x(p.0), y_avail(p.1)));
    let repair = line(&|p| (x(p.0), y_repair(p.2)));
    let title = title.replace(['<', '>', '&'], " ");
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">
<title>{title}</title>
<rect width="100%" height="100%" fill="#fff"/>
<text x="{PAD}" y="20" font-size="14">{title}: availability {avail_all:.5}, files lost {lost}, repair {ratio:.2}x the minimum</text>
<line x1="{PAD}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#888"/>
<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{bottom}" stroke="#888"/>
<text x="4" y="{PAD}">1.0</text><text x="4" y="{bottom}">{low:.3}</text>
<text x="{right}" y="{PAD}" text-anchor="end">{top:.2}</text>
<text x="{PAD}" y="{below}">day 0</text><text x="{right}" y="{below}" text-anchor="end">day {days:.0}</text>
<polyline fill="none" stroke="#1b7f3b" stroke-width="1.5" points="{avail}"/>
<polyline fill="none" stroke="#2541b2" stroke-width="1.5" points="{repair}"/>
<text x="{PAD}" y="{legend}" fill="#1b7f3b">files readable at each check (left)</text>
<text x="{mid}" y="{legend}" fill="#2541b2">repair uploads per stored shard, so far (right)</text>
</svg>
"##,
        avail_all = report.availability,
        lost = report.files_lost,
        ratio = report.repair_ratio(),
        bottom = H - PAD,
        right = W - PAD,
        below = H - PAD + 16.0,
        legend = H - 8.0,
        mid = W / 2.0,
    )
}
