//! `/api/v1/sensortypes` (StackStorm's st2api/controllers/v1/sensors.py): the registry's
//! sensors, listed and read, and enabled or disabled with `PUT` (the only change StackStorm
//! accepts there, and the toggle `st2ctl sensor enable|disable` sets).
//!
//! Owns: these routes. Must not: filter, find or toggle sensors itself (`service::sensors`
//! does).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};

use super::body::JsonBody;
use super::query::{Attributes, Params, list_answer};
use super::{Fault, Rest, views};
use crate::service::catalog::SensorFilter;
use crate::service::sensors;

pub async fn list(State(rest): State<Rest>, RawQuery(query): RawQuery) -> Result<Response, Fault> {
    let params = Params::parse(query.as_deref());
    let (window, attributes) = (params.window()?, Attributes::from_params(&params)?);
    let enabled = match params.get("enabled") {
        "" => None,
        _ => Some(params.flag("enabled")?),
    };
    let filter = SensorFilter {
        pack: params.get("pack").to_string(),
        name: params.get("name").to_string(),
        trigger_type: params.get("trigger").to_string(),
        enabled,
    };
    let page = window.cut(sensors::list(&rest.services, &filter));
    let items = page.items.iter().map(|e| views::sensor(&e.sensor, &e.standing)).collect();
    Ok(list_answer(items, page.total, window, &attributes))
}

pub async fn get_one(State(rest): State<Rest>, Path(ref_or_id): Path<String>) -> Result<Response, Fault> {
    let entry = sensors::get(&rest.services, &ref_or_id)?;
    Ok(Json(views::sensor(&entry.sensor, &entry.standing)).into_response())
}

/// `PUT /api/v1/sensortypes/{ref_or_id}` with the sensor: its `enabled` is applied (absent is
/// false, as in StackStorm); the rest of a sensor is its files.
pub async fn update(State(rest): State<Rest>, Path(ref_or_id): Path<String>, body: Bytes) -> Result<Response, Fault> {
    let enabled = JsonBody::parse(&body)?.flag("enabled")?.unwrap_or(false);
    let entry = sensors::set_enabled(&rest.services, &ref_or_id, enabled)?;
    Ok(Json(views::sensor(&entry.sensor, &entry.standing)).into_response())
}
