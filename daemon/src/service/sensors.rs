//! Sensors as the doors offer them (StackStorm's st2api/controllers/v1/sensors.py): listed
//! and read with where each stands (enabled, registered, its process's state), and enabled or
//! disabled, a toggle kept in the store over the sensor file's `enabled` that the supervisor
//! follows.
//!
//! Owns: what a sensor request means. Must not: start or stop a sensor itself (the supervisor
//! does) or format one for a door.

use std::sync::Arc;

use st2d_core::pack::model::Sensor;

use super::catalog::{self, SensorFilter};
use super::{ServiceError, Services};
use crate::sensor::Standing;

/// A sensor of the registry and where it stands.
#[derive(Debug, Clone)]
pub struct SensorEntry {
    pub sensor: Arc<Sensor>,
    pub standing: Standing,
}

/// Sensors passing `filter`, in ref order.
pub fn list(services: &Services, filter: &SensorFilter) -> Vec<SensorEntry> {
    let registry = services.published.registry();
    let supervisor = &services.runtime.sensors;
    let selection = supervisor.selection();
    catalog::sensors(&registry, filter, |s| selection.enabled(s))
        .into_iter()
        .map(|sensor| {
            let standing = supervisor.standing(&sensor, &registry, &selection);
            SensorEntry { sensor, standing }
        })
        .collect()
}

/// The sensor whose ref or id is `ref_or_id`.
pub fn get(services: &Services, ref_or_id: &str) -> Result<SensorEntry, ServiceError> {
    let registry = services.published.registry();
    let sensor = catalog::sensor(&registry, ref_or_id)?;
    let supervisor = &services.runtime.sensors;
    let standing = supervisor.standing(&sensor, &registry, &supervisor.selection());
    Ok(SensorEntry { sensor, standing })
}

/// Enables or disables the sensor whose ref or id is `ref_or_id`, across restarts.
pub fn set_enabled(services: &Services, ref_or_id: &str, enabled: bool) -> Result<SensorEntry, ServiceError> {
    let sensor = catalog::sensor(&services.published.registry(), ref_or_id)?;
    services.runtime.sensors.set_enabled(&sensor.ref_, enabled, sensor.enabled).map_err(ServiceError::internal)?;
    get(services, &sensor.ref_)
}
