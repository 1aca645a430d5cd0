//! What must travel between client, scheduler and executors beyond a function's name.
//!
//! * [`RfmTable`] (logical codec): its transaction plan, options and registered schemes. The
//!   scheduler decodes it as a view over the full `rfm()` plan, which it splits into stages like
//!   any plan. The table's per-customer shortcut (cached population cut points) stays a
//!   single-process feature: on a cluster a customer filter applies to the full computation,
//!   with the same rows as a result.
//! * `rfm_segment` with schemes added by [`clv_core::register_scheme`] (logical and physical
//!   codecs): the added scheme definitions travel with the call, so executors label with the
//!   same schemes as the client. With the built-in schemes only, it travels by name.
//!
//! * The purchase-panel tables and their operator ([`PanelTable`], [`PanelExec`]: the
//!   segmentation table functions `segment_evaluate`, `segment_tune`, `rfm_clusters`, ...;
//!   logical and physical codecs): their [`PanelCall`] (function, options, arguments, added
//!   schemes) and the source plan. Scheduler and executors rebuild them with
//!   [`PanelTable::from_call`]; the operator runs in one task that reads every partition of its
//!   input.
//!
//! Everything else is forwarded to Ballista's own codecs.

use std::sync::Arc;

use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use clv_core::exec::panel_exec::{PanelCall, PanelExec, PanelTable};
use clv_core::plan::rfm::{RfmFunctions, rfm_plan};
use clv_core::rfm::SchemeDefinition;
use clv_core::udf::rfm_segment::RfmSegment;
use clv_core::{ClvOptions, RfmTable, SchemeRegistry};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::common::{DataFusionError, Result, TableReference, exec_datafusion_err, exec_err, not_impl_err};
use datafusion::config::ExtensionOptions;
use datafusion::datasource::ViewTable;
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Extension, LogicalPlan, ScalarUDF};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::bytes::{
    logical_plan_from_bytes_with_extension_codec, logical_plan_to_bytes_with_extension_codec,
};
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use serde::{Deserialize, Serialize};

/// Marks an encoded [`RfmTable`]; the version changes with the layout.
const RFM_TABLE_MAGIC: &[u8] = b"clv.RfmTable/1\n";

/// Marks an encoded [`PanelTable`] / [`PanelExec`]; the version changes with the layout.
const PANEL_TABLE_MAGIC: &[u8] = b"clv.PanelTable/1\n";
const PANEL_EXEC_MAGIC: &[u8] = b"clv.PanelExec/1\n";

/// The scalar function whose instances carry state (the segment schemes).
const RFM_SEGMENT: &str = "rfm_segment";

/// Ballista's logical codec plus [`RfmTable`] and `rfm_segment` schemes.
#[derive(Debug, Default)]
pub struct ClvLogicalCodec {
    inner: BallistaLogicalExtensionCodec,
}

/// Ballista's physical codec plus `rfm_segment` schemes.
#[derive(Debug, Default)]
pub struct ClvPhysicalCodec {
    inner: BallistaPhysicalExtensionCodec,
}

fn encode_segment(node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
    if let Some(segment) = node.inner().downcast_ref::<RfmSegment>() {
        let added = segment.schemes().added();
        if !added.is_empty() {
            serde_json::to_writer(buf, &added).map_err(|e| DataFusionError::External(Box::new(e)))?;
        }
    }
    Ok(())
}

/// `Some` when `buf` carries `rfm_segment`'s added schemes.
fn decode_segment(name: &str, buf: &[u8]) -> Option<Result<Arc<ScalarUDF>>> {
    (name == RFM_SEGMENT && !buf.is_empty()).then(|| {
        let added: Vec<SchemeDefinition> = serde_json::from_slice(buf)
            .map_err(|e| exec_datafusion_err!("cannot decode the segment schemes of rfm_segment: {e}"))?;
        Ok(Arc::new(ScalarUDF::from(RfmSegment::new(SchemeRegistry::with_added(
            added,
        )?))))
    })
}

/// `header` (JSON) and `source` (an encoded logical plan), each after its length.
fn frame(header: &impl Serialize, source: &[u8], buf: &mut Vec<u8>) -> Result<()> {
    let header = serde_json::to_vec(header).map_err(|e| DataFusionError::External(Box::new(e)))?;
    let len = |n: usize| u32::try_from(n).map_err(|e| DataFusionError::External(Box::new(e)));
    buf.extend_from_slice(&len(header.len())?.to_le_bytes());
    buf.extend_from_slice(&header);
    buf.extend_from_slice(source);
    Ok(())
}

/// The header and the source bytes of a [`frame`].
fn unframe<'a, H: serde::de::DeserializeOwned>(buf: &'a [u8], what: &str) -> Result<(H, &'a [u8])> {
    let corrupt = || exec_datafusion_err!("corrupt {what} encoding");
    let (len, rest) = buf.split_first_chunk::<4>().ok_or_else(corrupt)?;
    let (header, source) = rest
        .split_at_checked(u32::from_le_bytes(*len) as usize)
        .ok_or_else(corrupt)?;
    let header = serde_json::from_slice(header).map_err(|e| exec_datafusion_err!("corrupt {what} encoding: {e}"))?;
    Ok((header, source))
}

/// A [`PanelExec`] without its input: the call and the projection (the source follows).
#[derive(Serialize, Deserialize)]
struct PanelExecHeader {
    call: PanelCall,
    projection: Option<Vec<usize>>,
}

/// An [`RfmTable`] without its data: options and schemes (JSON), then the transaction plan.
#[derive(Serialize, Deserialize)]
struct RfmTableHeader {
    options: Vec<(String, String)>,
    schemes: Vec<SchemeDefinition>,
}

impl ClvLogicalCodec {
    fn encode_rfm_table(&self, table: &RfmTable, buf: &mut Vec<u8>) -> Result<()> {
        let header = RfmTableHeader {
            options: (table.options().entries().into_iter())
                .filter_map(|e| Some((e.key, e.value?)))
                .collect(),
            schemes: table.functions().schemes().added(),
        };
        let source = logical_plan_to_bytes_with_extension_codec(table.source(), self)?;
        buf.extend_from_slice(RFM_TABLE_MAGIC);
        frame(&header, &source, buf)
    }

    /// The scheduler's view of an [`RfmTable`]: the full `rfm()` plan over its source.
    fn decode_rfm_table(&self, buf: &[u8], schema: &SchemaRef, ctx: &TaskContext) -> Result<Arc<dyn TableProvider>> {
        let (header, source): (RfmTableHeader, _) = unframe(buf, "RfmTable")?;
        let mut options = ClvOptions::default();
        for (key, value) in &header.options {
            options.set_option(key, value)?;
        }
        let functions = RfmFunctions {
            segment: Arc::new(ScalarUDF::from(RfmSegment::new(SchemeRegistry::with_added(
                header.schemes,
            )?))),
            ..RfmFunctions::default()
        };
        let source = logical_plan_from_bytes_with_extension_codec(source, ctx, self)?;
        let plan = rfm_plan(source, &options, &functions)?;
        if plan.schema().inner().fields() != schema.fields() {
            return exec_err!(
                "RfmTable decodes to columns {:?}, but the client planned {:?}: client and scheduler run different clv versions",
                plan.schema().field_names(),
                schema.fields().iter().map(|f| f.name()).collect::<Vec<_>>()
            );
        }
        Ok(Arc::new(ViewTable::new(plan, None)))
    }

    /// A [`PanelTable`]: its call, then its source plan.
    fn encode_panel_table(&self, table: &PanelTable, buf: &mut Vec<u8>) -> Result<()> {
        if !table.call().allowed_on_cluster()? {
            return not_impl_err!(
                "{}: the segmentation table functions do not run on a cluster by default: a GROUP BY or a join over their rows returned too few rows on the test cluster (a known bug, docs/distributed.md). Run them in a local session, or SET clv.cluster.panel = true to read their rows whole on the cluster",
                table.call().function
            );
        }
        let source = logical_plan_to_bytes_with_extension_codec(table.source(), self)?;
        buf.extend_from_slice(PANEL_TABLE_MAGIC);
        frame(table.call(), &source, buf)
    }

    fn decode_panel_table(&self, buf: &[u8], schema: &SchemaRef, ctx: &TaskContext) -> Result<Arc<dyn TableProvider>> {
        let (call, source): (PanelCall, _) = unframe(buf, "PanelTable")?;
        let source = logical_plan_from_bytes_with_extension_codec(source, ctx, self)?;
        let table = PanelTable::from_call(source, &call)?;
        if table.schema().fields() != schema.fields() {
            return exec_err!(
                "{} decodes to columns {:?}, but the client planned {:?}: client and cluster run different clv versions",
                call.function,
                table.schema().fields().iter().map(|f| f.name()).collect::<Vec<_>>(),
                schema.fields().iter().map(|f| f.name()).collect::<Vec<_>>()
            );
        }
        Ok(Arc::new(table))
    }
}

impl LogicalExtensionCodec for ClvLogicalCodec {
    fn try_decode(&self, buf: &[u8], inputs: &[LogicalPlan], ctx: &TaskContext) -> Result<Extension> {
        self.inner.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        if let Some(rest) = buf.strip_prefix(RFM_TABLE_MAGIC) {
            return self.decode_rfm_table(rest, &schema, ctx);
        }
        match buf.strip_prefix(PANEL_TABLE_MAGIC) {
            Some(rest) => self.decode_panel_table(rest, &schema, ctx),
            None => self.inner.try_decode_table_provider(buf, table_ref, schema, ctx),
        }
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        if let Some(table) = node.downcast_ref::<RfmTable>() {
            return self.encode_rfm_table(table, buf);
        }
        match node.downcast_ref::<PanelTable>() {
            Some(table) => self.encode_panel_table(table, buf),
            None => self.inner.try_encode_table_provider(table_ref, node, buf),
        }
    }

    fn try_decode_file_format(&self, buf: &[u8], ctx: &TaskContext) -> Result<Arc<dyn FileFormatFactory>> {
        self.inner.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(&self, buf: &mut Vec<u8>, node: Arc<dyn FileFormatFactory>) -> Result<()> {
        self.inner.try_encode_file_format(buf, node)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        decode_segment(name, buf).unwrap_or_else(|| self.inner.try_decode_udf(name, buf))
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        encode_segment(node, buf)
    }
}

impl PhysicalExtensionCodec for ClvPhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let Some(rest) = buf.strip_prefix(PANEL_EXEC_MAGIC) else {
            return self.inner.try_decode(buf, inputs, ctx, proto_converter);
        };
        let (header, source): (PanelExecHeader, _) = unframe(rest, "PanelExec")?;
        let [input] = inputs else {
            return exec_err!("PanelExec has one input, got {}", inputs.len());
        };
        let source = logical_plan_from_bytes_with_extension_codec(source, ctx, &ClvLogicalCodec::default())?;
        let table = PanelTable::from_call(source, &header.call)?;
        Ok(Arc::new(table.exec(Arc::clone(input), header.projection)?))
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        let Some(exec) = node.downcast_ref::<PanelExec>() else {
            return self.inner.try_encode(node, buf, proto_converter);
        };
        let table = exec.table();
        let source = logical_plan_to_bytes_with_extension_codec(table.source(), &ClvLogicalCodec::default())?;
        let header = PanelExecHeader {
            call: table.call().clone(),
            projection: exec.projection().map(<[usize]>::to_vec),
        };
        buf.extend_from_slice(PANEL_EXEC_MAGIC);
        frame(&header, &source, buf)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        decode_segment(name, buf).unwrap_or_else(|| self.inner.try_decode_udf(name, buf))
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        encode_segment(node, buf)
    }
}
