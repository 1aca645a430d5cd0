//! Every registration path registers the same clv functions, by name and kind.

use std::collections::BTreeSet;

use datafusion::execution::SessionStateBuilder;
use datafusion::execution::session_state::SessionState;
use datafusion::prelude::SessionContext;

type Functions = BTreeSet<(String, &'static str)>;

/// Every function of a session state, by name and kind.
fn functions(state: &SessionState) -> Functions {
    let mut out = Functions::new();
    out.extend(state.scalar_functions().keys().map(|n| (n.clone(), "scalar")));
    out.extend(state.aggregate_functions().keys().map(|n| (n.clone(), "aggregate")));
    out.extend(state.window_functions().keys().map(|n| (n.clone(), "window")));
    out.extend(state.table_functions().keys().map(|n| (n.clone(), "table")));
    out
}

/// What registering clv added to a state.
fn added(with_clv: &SessionState, without: &SessionState) -> Functions {
    functions(with_clv).difference(&functions(without)).cloned().collect()
}

/// The registry's functions, by name and kind.
fn expected() -> Functions {
    let list = clv_core::registry::functions();
    let set: Functions = list.iter().map(|f| (f.name().to_string(), f.kind().as_str())).collect();
    assert_eq!(set.len(), list.len(), "a name is listed twice");
    set
}

#[test]
fn every_registration_path_registers_the_same_functions() {
    let plain = || SessionStateBuilder::new().with_default_features().build();
    let baseline = plain();

    let ctx = SessionContext::new_with_state(plain());
    clv_core::register_all(&ctx).unwrap();
    let context = added(&ctx.state(), &baseline);

    let mut state = plain();
    clv_core::register_all_on_state(&mut state).unwrap();
    let on_state = added(&state, &baseline);

    let built = clv_core::register_all_on_builder(SessionStateBuilder::new().with_default_features()).build();
    let on_builder = added(&built, &baseline);

    let expected = expected();
    assert_eq!(context, expected, "register_all");
    assert_eq!(on_state, expected, "register_all_on_state");
    assert_eq!(on_builder, expected, "register_all_on_builder");
}
