//! Registering packs' content (`packs.load`, `POST /api/v1/packs/register`): the reload actor
//! is asked to add content kinds to the packs' registration policy and reload, and the answer
//! counts what each kind now registers, as StackStorm's registrars count it.
//!
//! Owns: the request to the reload actor and the counts. Must not: write registration policy
//! itself (the reload actor does) or decide the kinds a caller means (the callers do).

use std::collections::{BTreeMap, BTreeSet};

use st2d_core::pack::model::ContentKind;

use super::PackManager;
use crate::reload::{Cause, Registration, ReloadStopped};

/// Why nothing was registered.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("packs: no pack \"{pack}\" is installed")]
    UnknownPack { pack: String },
    #[error(transparent)]
    Reload(#[from] ReloadStopped),
}

/// What a registration did.
#[derive(Debug, Clone, Default)]
pub struct Registered {
    /// Resources registered by kind, under StackStorm's names (`actions`, `triggers`, ...), for
    /// the kinds asked for (or registered, when none was asked for).
    pub counts: BTreeMap<&'static str, usize>,
    /// The errors of the packs registered, each as `<pack>: <error>`.
    pub problems: Vec<String>,
    /// One line per pack (what it registers) and its warnings, for a progress log.
    pub lines: Vec<String>,
    /// The registry generation published.
    pub generation: u64,
}

impl PackManager {
    /// Adds `kinds` to the registration policy of `packs` (every installed pack when empty),
    /// reloads, and counts what they register.
    pub async fn register(&self, packs: &[String], kinds: BTreeSet<ContentKind>) -> Result<Registered, RegisterError> {
        let registry = self.published().registry();
        if let Some(unknown) = packs.iter().find(|p| registry.pack(p).is_none()) {
            return Err(RegisterError::UnknownPack { pack: unknown.clone() });
        }
        let registration = Registration { kinds, packs: packs.to_vec(), ..Registration::default() };
        let report = self.reload().reload(Cause::Packs, Some(registration)).await?;
        let registry = self.published().registry();
        let chosen: Vec<String> = if packs.is_empty() {
            registry.packs().filter(|p| !p.builtin).map(|p| p.ref_.clone()).collect()
        } else {
            packs.to_vec()
        };
        let mut registered = Registered { generation: report.generation, ..Registered::default() };
        for pack in &chosen {
            let Some(entry) = registry.pack(pack) else { continue };
            registered.problems.extend(entry.errors().iter().map(|e| format!("{pack}: {e}")));
            for warning in entry.warnings() {
                registered.lines.push(format!("warning: {pack}: {warning}"));
            }
            let Some(content) = &entry.content else { continue };
            let sizes = [
                (ContentKind::Actions, content.actions.len()),
                (ContentKind::Triggers, content.trigger_types.len()),
                (ContentKind::Sensors, content.sensors.len()),
                (ContentKind::Rules, content.rules.len()),
                (ContentKind::Aliases, content.aliases.len()),
                (ContentKind::Policies, content.policies.len()),
                (ContentKind::Configs, usize::from(content.config_schema.is_some())),
            ];
            for (kind, size) in sizes {
                *registered.counts.entry(kind.as_str()).or_default() += if entry.registers(kind) { size } else { 0 };
            }
            registered.lines.push(format!(
                "{pack}: registered {}",
                entry.registered.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
            ));
        }
        Ok(registered)
    }
}
