//! Session options of aggregate and window functions in a host that does not simplify them.
//!
//! clv's aggregates and window functions read their session defaults in `simplify`: the fits
//! append `clv.btyd.time_unit` and `clv.fit.penalizer`, the LTV aggregates and windows
//! `session.time_unit=…`, `session.penalizer=…`, `session.model=…`, `kmeans_fit` inserts
//! `clv.seed` after `k`, `rfm_score` appends `clv.rfm.method`. datafusion-ffi 55 carries neither
//! that step (a foreign aggregate's or window function's `simplify` is `None`) nor the session's
//! configuration to the accumulator or partition evaluator it asks clv for: from
//! datafusion-python, `bgnbd_fit(x, t_x, t)` used the options' defaults whatever was `SET`.
//!
//! [`aggregate`] and [`window`] wrap such a function with a set of options (the calling
//! session's, read when the function is handed to the host: see `clv.register` and the
//! Python context's `SET` handling). When the host asks for an accumulator or evaluator, the
//! wrapper replays the function's own `simplify` with those options on the call's arguments
//! (its constants as literals, the rest as placeholders), and hands the function the completed
//! argument list: the constants `simplify` added become literal expressions (and fields), and
//! every batch gets their values as arrays at the same positions, exactly what the function
//! receives in a native session after `simplify` has run. The defaults have one home, each
//! function's `simplify`; nothing here knows which option a function reads.

use std::hash::{Hash, Hasher};
use std::ops::Range;
use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::config::ConfigOptions;
use datafusion::common::{Column, Result, ScalarValue, internal_err};
use datafusion::logical_expr::expr::{AggregateFunction, WindowFunction};
use datafusion::logical_expr::function::{
    AccumulatorArgs, AggregateFunctionSimplification, PartitionEvaluatorArgs, StateFieldsArgs,
    WindowFunctionSimplification, WindowUDFFieldArgs,
};
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::logical_expr::utils::AggregateOrderSensitivity;
use datafusion::logical_expr::window_state::WindowAggState;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, Expr, GroupsAccumulator, PartitionEvaluator, Signature,
    WindowUDF, WindowUDFImpl,
};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Literal;

use clv_core::ClvOptions;
use clv_core::common::constant::constant;

/// The options a wrapped function completes its calls with, as a session configuration
/// (what `simplify` reads).
#[derive(Debug, Clone)]
pub struct Defaults {
    options: ClvOptions,
    config: Arc<ConfigOptions>,
}

impl Defaults {
    /// The session defaults of `options`.
    pub fn new(options: ClvOptions) -> Self {
        let mut config = ConfigOptions::new();
        config.extensions.insert(options.clone());
        Self {
            options,
            config: Arc::new(config),
        }
    }

    /// The options.
    pub fn options(&self) -> &ClvOptions {
        &self.options
    }

    fn context(&self) -> SimplifyContext {
        SimplifyContext::builder()
            .with_config_options(Arc::clone(&self.config))
            .build()
    }

    /// The options' values as text: the identity of a set of defaults.
    fn key(&self) -> Vec<(&'static str, Option<String>)> {
        self.options.values()
    }
}

impl PartialEq for Defaults {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl Eq for Defaults {}
impl Hash for Defaults {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

/// One argument of a completed call.
#[derive(Debug, Clone)]
enum Argument {
    /// The call's argument at this position.
    Given(usize),
    /// A constant `simplify` added.
    Added(ScalarValue),
}

/// How a call's arguments map to the arguments after `simplify`.
#[derive(Debug)]
struct Completion {
    arguments: Vec<Argument>,
    given: usize,
}

/// The call's arguments as `simplify` sees them in a native session: constants as literals,
/// anything else as a placeholder column (the closures only look for their own constants).
fn logical_arguments(exprs: &[Arc<dyn PhysicalExpr>]) -> Vec<Expr> {
    exprs
        .iter()
        .enumerate()
        .map(|(i, e)| match constant(e) {
            Some(value) => Expr::Literal(value, None),
            None => Expr::Column(Column::from_name(format!("__clv_argument_{i}"))),
        })
        .collect()
}

impl Completion {
    /// Matches the completed arguments against the given ones, in order. `simplify` only adds
    /// constants (appended or inserted); anything else is refused. When an added constant equals
    /// the given constant after it, either reading gives the same values at the same positions.
    fn new(function: &str, given: &[Expr], completed: &[Expr]) -> Result<Self> {
        let mut next = 0;
        let mut arguments = Vec::with_capacity(completed.len());
        for e in completed {
            if given.get(next) == Some(e) {
                arguments.push(Argument::Given(next));
                next += 1;
            } else if let Expr::Literal(value, _) = e {
                arguments.push(Argument::Added(value.clone()));
            } else {
                return internal_err!("{function}: clv cannot replay its session defaults: simplify returned {e}");
            }
        }
        if next != given.len() {
            return internal_err!("{function}: clv cannot replay its session defaults: simplify dropped an argument");
        }
        Ok(Self {
            arguments,
            given: given.len(),
        })
    }

    fn adds_nothing(&self) -> bool {
        self.arguments.iter().all(|a| matches!(a, Argument::Given(_)))
    }

    /// The completed argument expressions and fields.
    fn exprs_and_fields(
        &self,
        exprs: &[Arc<dyn PhysicalExpr>],
        fields: &[FieldRef],
    ) -> (Vec<Arc<dyn PhysicalExpr>>, Vec<FieldRef>) {
        self.arguments
            .iter()
            .map(|a| match a {
                Argument::Given(i) => (Arc::clone(&exprs[*i]), Arc::clone(&fields[*i])),
                Argument::Added(value) => (
                    Arc::new(Literal::new(value.clone())) as Arc<dyn PhysicalExpr>,
                    Arc::new(Field::new("lit", value.data_type(), value.is_null())),
                ),
            })
            .unzip()
    }

    /// The completed argument values of a batch of `rows` rows (values after the call's
    /// arguments, such as ordering columns, follow them unchanged).
    fn values(&self, values: &[ArrayRef], rows: usize) -> Result<Vec<ArrayRef>> {
        let mut out = Vec::with_capacity(values.len() + self.arguments.len());
        for a in &self.arguments {
            out.push(match a {
                Argument::Given(i) => Arc::clone(&values[*i]),
                Argument::Added(value) => value.to_array_of_size(rows)?,
            });
        }
        out.extend(values.iter().skip(self.given).cloned());
        Ok(out)
    }
}

fn rows(values: &[ArrayRef]) -> usize {
    values.first().map_or(0, |a| a.len())
}

/// `f` completing its calls with `defaults` where the host does not run its `simplify`; `f`
/// itself when it has none.
pub fn aggregate(f: &Arc<AggregateUDF>, defaults: &Defaults) -> Arc<AggregateUDF> {
    if f.inner().simplify().is_none() {
        return Arc::clone(f);
    }
    Arc::new(AggregateUDF::new_from_impl(AggregateDefaults {
        inner: Arc::clone(f),
        defaults: defaults.clone(),
    }))
}

/// `f` completing its calls with `defaults` where the host does not run its `simplify`; `f`
/// itself when it has none.
pub fn window(f: &Arc<WindowUDF>, defaults: &Defaults) -> Arc<WindowUDF> {
    if f.inner().simplify().is_none() {
        return Arc::clone(f);
    }
    Arc::new(WindowUDF::new_from_impl(WindowDefaults {
        inner: Arc::clone(f),
        defaults: defaults.clone(),
    }))
}

/// An aggregate completing its calls with session defaults (see the module documentation).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct AggregateDefaults {
    inner: Arc<AggregateUDF>,
    defaults: Defaults,
}

impl AggregateDefaults {
    fn completion(&self, args: &AccumulatorArgs) -> Result<Completion> {
        let Some(simplify): Option<AggregateFunctionSimplification> = self.inner.inner().simplify() else {
            return Completion::new(self.inner.name(), &[], &[]);
        };
        let given = logical_arguments(args.exprs);
        let call = AggregateFunction::new_udf(
            Arc::clone(&self.inner),
            given.clone(),
            args.is_distinct,
            None,
            vec![],
            None,
        );
        let completed = match simplify(call, &self.defaults.context())? {
            Expr::AggregateFunction(f) => f.params.args,
            other => {
                return internal_err!(
                    "{}: clv cannot replay its session defaults: simplify returned {other}",
                    self.inner.name()
                );
            }
        };
        Completion::new(self.inner.name(), &given, &completed)
    }

    /// The accumulator `create` makes for the completed call, fed completed batches.
    fn with_completed_args(
        &self,
        args: AccumulatorArgs,
        create: impl FnOnce(AccumulatorArgs) -> Result<Box<dyn Accumulator>>,
    ) -> Result<Box<dyn Accumulator>> {
        let completion = self.completion(&args)?;
        if completion.adds_nothing() {
            return create(args);
        }
        let (exprs, fields) = completion.exprs_and_fields(args.exprs, args.expr_fields);
        let inner = create(AccumulatorArgs {
            exprs: &exprs,
            expr_fields: &fields,
            ..args
        })?;
        Ok(Box::new(CompletedAccumulator { inner, completion }))
    }
}

impl AggregateUDFImpl for AggregateDefaults {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.inner().coerce_types(arg_types)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn return_field(&self, arg_fields: &[FieldRef]) -> Result<FieldRef> {
        self.inner.return_field(arg_fields)
    }

    fn is_nullable(&self) -> bool {
        self.inner.is_nullable()
    }

    /// The function's own: no clv function's state depends on the arguments `simplify` adds
    /// (`kmeans_fit` counts its features after the seed either way).
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        self.inner.state_fields(args)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        self.with_completed_args(args, |args| self.inner.accumulator(args))
    }

    fn create_sliding_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        self.with_completed_args(args, |args| self.inner.create_sliding_accumulator(args))
    }

    /// Only when the defaults add nothing (no clv aggregate that reads the session has a groups
    /// accumulator; this keeps the wrapper from feeding one uncompleted batches).
    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        self.completion(&args).is_ok_and(|c| c.adds_nothing()) && self.inner.groups_accumulator_supported(args)
    }

    fn create_groups_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn GroupsAccumulator>> {
        self.inner.create_groups_accumulator(args)
    }

    fn order_sensitivity(&self) -> AggregateOrderSensitivity {
        self.inner.inner().order_sensitivity()
    }

    fn supports_null_handling_clause(&self) -> bool {
        self.inner.inner().supports_null_handling_clause()
    }

    /// The function's own: in a host that runs it (a native session), the call is complete
    /// before the accumulator is asked for, and the replay adds nothing.
    fn simplify(&self) -> Option<AggregateFunctionSimplification> {
        self.inner.inner().simplify()
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }
}

/// An accumulator fed the completed arguments.
#[derive(Debug)]
struct CompletedAccumulator {
    inner: Box<dyn Accumulator>,
    completion: Completion,
}

impl Accumulator for CompletedAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let values = self.completion.values(values, rows(values))?;
        self.inner.update_batch(&values)
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let values = self.completion.values(values, rows(values))?;
        self.inner.retract_batch(&values)
    }

    fn supports_retract_batch(&self) -> bool {
        self.inner.supports_retract_batch()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.inner.merge_batch(states)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.inner.state()
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.inner.evaluate()
    }

    fn size(&self) -> usize {
        self.inner.size()
    }
}

/// A window function completing its calls with session defaults (see the module
/// documentation).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct WindowDefaults {
    inner: Arc<WindowUDF>,
    defaults: Defaults,
}

impl WindowUDFImpl for WindowDefaults {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.inner().coerce_types(arg_types)
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        self.inner.inner().field(field_args)
    }

    fn partition_evaluator(&self, args: PartitionEvaluatorArgs) -> Result<Box<dyn PartitionEvaluator>> {
        let Some(simplify): Option<WindowFunctionSimplification> = self.inner.inner().simplify() else {
            return self.inner.partition_evaluator_factory(args);
        };
        let given = logical_arguments(args.input_exprs());
        let mut call = WindowFunction::new(Arc::clone(&self.inner), given.clone());
        // The host has planned this window; its ORDER BY does not cross the FFI. The replay only
        // completes arguments, so it gets a stand-in order and does not judge the window's own
        // (a native session refuses `rfm_score(..., 'ntile') OVER ()`; a foreign host cannot).
        call.params.order_by = vec![datafusion::logical_expr::lit(1).sort(true, false)];
        let completed = match simplify(call, &self.defaults.context())? {
            Expr::WindowFunction(f) => f.params.args,
            other => {
                return internal_err!(
                    "{}: clv cannot replay its session defaults: simplify returned {other}",
                    self.inner.name()
                );
            }
        };
        let completion = Completion::new(self.inner.name(), &given, &completed)?;
        if completion.adds_nothing() {
            return self.inner.partition_evaluator_factory(args);
        }
        let (exprs, fields) = completion.exprs_and_fields(args.input_exprs(), args.input_fields());
        let inner = self.inner.partition_evaluator_factory(PartitionEvaluatorArgs::new(
            &exprs,
            &fields,
            args.is_reversed(),
            args.ignore_nulls(),
        ))?;
        Ok(Box::new(CompletedEvaluator { inner, completion }))
    }

    fn sort_options(&self) -> Option<datafusion::arrow::compute::SortOptions> {
        self.inner.inner().sort_options()
    }

    /// The function's own (see [`AggregateDefaults::simplify`]).
    fn simplify(&self) -> Option<WindowFunctionSimplification> {
        self.inner.inner().simplify()
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }
}

/// A partition evaluator fed the completed arguments.
#[derive(Debug)]
struct CompletedEvaluator {
    inner: Box<dyn PartitionEvaluator>,
    completion: Completion,
}

impl PartitionEvaluator for CompletedEvaluator {
    fn memoize(&mut self, state: &mut WindowAggState) -> Result<()> {
        self.inner.memoize(state)
    }

    fn get_range(&self, idx: usize, n_rows: usize) -> Result<Range<usize>> {
        self.inner.get_range(idx, n_rows)
    }

    fn is_causal(&self) -> bool {
        self.inner.is_causal()
    }

    fn evaluate_all(&mut self, values: &[ArrayRef], num_rows: usize) -> Result<ArrayRef> {
        let values = self.completion.values(values, num_rows)?;
        self.inner.evaluate_all(&values, num_rows)
    }

    fn evaluate(&mut self, values: &[ArrayRef], range: &Range<usize>) -> Result<ScalarValue> {
        let values = self.completion.values(values, rows(values))?;
        self.inner.evaluate(&values, range)
    }

    fn evaluate_all_with_rank(&self, num_rows: usize, ranks_in_partition: &[Range<usize>]) -> Result<ArrayRef> {
        self.inner.evaluate_all_with_rank(num_rows, ranks_in_partition)
    }

    fn supports_bounded_execution(&self) -> bool {
        self.inner.supports_bounded_execution()
    }

    fn uses_window_frame(&self) -> bool {
        self.inner.uses_window_frame()
    }

    fn include_rank(&self) -> bool {
        self.inner.include_rank()
    }
}
