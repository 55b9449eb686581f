//! Health-monitor tables: the module table (`[module.hm]`) and each partition's
//! (`[partition.hm]`), merged into the complete error → action table the kernel gets.
//!
//! An error the module table names is handled at module level, whoever raises it, so a
//! partition table may not name it too; every error a table leaves out gets its documented
//! default (`apex_api::health`).

use std::collections::BTreeMap;

use toml::Spanned;

use super::partition::CheckedPartition;
use super::{Checker, HmNames};
use crate::config::{RawHmTable, RawPartition};
use crate::diag::Rule;
use crate::model::{HmAction, HmEntry, HmError, ModuleAction, PartitionAction};

impl Checker<'_> {
    /// The module table's entries that are valid.
    pub(crate) fn module_hm_table(
        &mut self,
        table: Option<&Spanned<RawHmTable>>,
    ) -> HmNames<ModuleAction> {
        let mut out = BTreeMap::new();
        for (key, value) in table.map(|t| t.get_ref().iter()).into_iter().flatten() {
            let Some(error) = self.hm_error(key, "module") else {
                continue;
            };
            let Some(action) = self.hm_action::<ModuleAction>(
                value,
                "module",
                ModuleAction::from_name,
                ModuleAction::ALL.iter().map(|a| a.name()),
            ) else {
                continue;
            };
            out.insert(error, (action, self.line(key)));
        }
        out
    }

    fn hm_error(&mut self, key: &Spanned<String>, level: &str) -> Option<HmError> {
        let e = HmError::from_name(key.get_ref());
        if e.is_none() {
            let known: Vec<_> = HmError::ALL.iter().map(|e| e.name()).collect();
            self.error(
                Rule::UnknownHmError,
                key.span(),
                format!(
                    "the {level} HM table names error {:?}, which pkernel does not know",
                    key.get_ref()
                ),
                format!("use one of: {}", known.join(", ")),
            );
        }
        e
    }

    fn hm_action<A>(
        &mut self,
        value: &Spanned<String>,
        level: &str,
        parse: fn(&str) -> Option<A>,
        names: impl Iterator<Item = &'static str>,
    ) -> Option<A> {
        let a = parse(value.get_ref());
        if a.is_none() {
            let known: Vec<_> = names.collect();
            self.error(
                Rule::UnknownHmAction,
                value.span(),
                format!("{:?} is not a {level} HM action", value.get_ref()),
                format!("use one of: {}", known.join(", ")),
            );
        }
        a
    }
}

/// Checks each partition table against the module table and fills in every partition's
/// complete HM table; returns the complete module table (module-only errors with their
/// defaults, and every error the module table names).
pub(crate) fn merge(
    cx: &mut Checker<'_>,
    module: &HmNames<ModuleAction>,
    raw_parts: &[Spanned<RawPartition>],
    parts: &mut [CheckedPartition],
) -> Vec<HmEntry<ModuleAction>> {
    for (p, rp) in parts.iter_mut().zip(raw_parts) {
        let name = p.config.name.clone();
        let mut named: BTreeMap<HmError, PartitionAction> = BTreeMap::new();
        for (key, value) in rp
            .get_ref()
            .hm
            .as_ref()
            .map(|t| t.get_ref().iter())
            .into_iter()
            .flatten()
        {
            let Some(error) = cx.hm_error(key, "partition") else {
                continue;
            };
            let action = cx.hm_action::<PartitionAction>(
                value,
                "partition",
                PartitionAction::from_name,
                PartitionAction::ALL.iter().map(|a| a.name()),
            );
            if error.is_module_only() {
                cx.error(
                    Rule::HmLevelConflict,
                    key.span(),
                    format!(
                        "{:?} is a module-level error; partition {name:?} cannot handle it",
                        error.name()
                    ),
                    "set its action in [module.hm] instead".to_owned(),
                );
                continue;
            }
            if let Some((_, line)) = module.get(&error) {
                cx.error(
                    Rule::HmLevelConflict,
                    key.span(),
                    format!("{:?} is handled at module level ([module.hm], line {line}); partition {name:?} cannot handle it too", error.name()),
                    "remove it here, or from [module.hm] to handle it per partition".to_owned(),
                );
                continue;
            }
            if let Some(action) = action {
                named.insert(error, action);
            }
        }
        p.config.hm = HmError::ALL
            .iter()
            .filter(|e| !e.is_module_only())
            .map(|&error| match (module.get(&error), named.get(&error)) {
                (Some(&(action, _)), _) => HmEntry {
                    error,
                    action: HmAction::Module(action),
                    configured: true,
                },
                (None, Some(&action)) => HmEntry {
                    error,
                    action: HmAction::Partition(action),
                    configured: true,
                },
                (None, None) => HmEntry {
                    error,
                    action: HmAction::Partition(error.default_partition_action()),
                    configured: false,
                },
            })
            .collect();
    }
    HmError::ALL
        .iter()
        .filter_map(|&error| match module.get(&error) {
            Some(&(action, _)) => Some(HmEntry {
                error,
                action,
                configured: true,
            }),
            None if error.is_module_only() => Some(HmEntry {
                error,
                action: error.default_module_action(),
                configured: false,
            }),
            None => None,
        })
        .collect()
}
