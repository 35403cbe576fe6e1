//! The MCP description of each tool, made once per tool definition: rmcp asks for a tool's
//! description on every `tools/call` of the current revision (to check its `Mcp-Param-*`
//! headers), and `tools/list` for all of them.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use rmcp::model::{ErrorData, Tool};

use super::answer;
use crate::registry::ToolInfo;

/// Descriptions by tool name, each kept with the [`ToolInfo`] it was made from: a registry
/// refresh that replaces a tool's definition makes a new one, and a tool gone is never served
/// from here (the executor is asked first).
#[derive(Debug, Default)]
pub(super) struct Described {
    tools: RwLock<HashMap<String, (Arc<ToolInfo>, Tool)>>,
}

impl Described {
    /// The description of `info`, made now unless made from this very definition before.
    pub(super) fn of(&self, info: &Arc<ToolInfo>) -> Result<Tool, ErrorData> {
        {
            let tools = self.tools.read().unwrap_or_else(PoisonError::into_inner);
            if let Some((made_from, tool)) = tools.get(&info.name)
                && Arc::ptr_eq(made_from, info)
            {
                return Ok(tool.clone());
            }
        }
        let tool = answer::tool(info)?;
        self.tools
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(info.name.clone(), (Arc::clone(info), tool.clone()));
        Ok(tool)
    }
}
