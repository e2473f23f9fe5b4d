//! The SVG plot of a sync scenario: request rate and in-flight count over time, one
//! panel above the other.

use std::path::Path;

use anyhow::anyhow;
use plotters::prelude::*;

use crate::sampler::Series;

/// Draws `series` to `path` under `title`.
pub fn draw(path: &Path, title: &str, series: &Series) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let root = root.titled(title, ("sans-serif", 20)).map_err(plot_error)?;
    let (upper, lower) = root.split_vertically(270);
    let end = series.samples.last().map_or(1.0, |s| s.at.max(1.0));
    panel(&upper, "requests/s", &series.rate_points(), end, &BLUE)?;
    panel(&lower, "in flight", &series.in_flight_points(), end, &RED)?;
    root.present().map_err(plot_error)
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    label: &str,
    points: &[(f64, f64)],
    end: f64,
    color: &RGBColor,
) -> anyhow::Result<()> {
    let top = points.iter().map(|p| p.1).fold(1.0, f64::max) * 1.1;
    let mut chart = ChartBuilder::on(area)
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..end, 0.0..top)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc("seconds")
        .y_desc(label)
        .draw()
        .map_err(plot_error)?;
    chart
        .draw_series(LineSeries::new(points.iter().copied(), color))
        .map_err(plot_error)?;
    Ok(())
}

fn plot_error<E: std::error::Error>(error: E) -> anyhow::Error {
    anyhow!("cannot draw the plot: {error}")
}
