//! Finding component types by name. The lists themselves live beside the components: `inputs/mod.rs`,
//! `outputs/mod.rs` and `processors/mod.rs` each name their component modules once, in a
//! [`components!`](crate::components) list that declares the module and registers the `KIND` it exports.

use super::{InputKind, OutputKind, ProcessorKind};

/// Declares component modules and registers them: every module listed must export a `pub const KIND`.
/// A `#[cfg(…)]` before a name builds that component only where the condition holds.
///
/// ```ignore
/// crate::components! { kind: InputKind; file, #[cfg(feature = "evtx")] evtx, stdin }
/// ```
#[macro_export]
macro_rules! components {
    (kind: $kind:ty; $( $(#[$attr:meta])* $name:ident ),* $(,)?) => {
        $( $(#[$attr])* pub mod $name; )*

        /// Every component type of this kind, in the order listed.
        pub static KINDS: &[$kind] = &[ $( $(#[$attr])* $name::KIND, )* ];
    };
}

/// The input type named `name`.
pub fn input(name: &str) -> Option<&'static InputKind> {
    crate::inputs::KINDS.iter().find(|k| k.name == name)
}

/// The output type named `name`.
pub fn output(name: &str) -> Option<&'static OutputKind> {
    crate::outputs::KINDS.iter().find(|k| k.name == name)
}

/// The processor type named `name` (or one of its aliases).
pub fn processor(name: &str) -> Option<&'static ProcessorKind> {
    crate::processors::KINDS
        .iter()
        .find(|k| k.name == name || k.aliases.contains(&name))
}

/// The names of the input types.
pub fn input_names() -> Vec<&'static str> {
    crate::inputs::KINDS.iter().map(|k| k.name).collect()
}

/// The names of the output types.
pub fn output_names() -> Vec<&'static str> {
    crate::outputs::KINDS.iter().map(|k| k.name).collect()
}

/// The names of the processor types (without aliases).
pub fn processor_names() -> Vec<&'static str> {
    crate::processors::KINDS.iter().map(|k| k.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_registered_once() {
        for names in [input_names(), output_names(), processor_names()] {
            let mut sorted = names.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), names.len(), "{names:?}");
        }
        assert!(input("file").is_some() && output("elasticsearch").is_some());
        assert_eq!(processor("drop_event").map(|k| k.name), Some("drop"));
    }
}
